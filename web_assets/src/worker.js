// Placeholder worker until the tracker lands.
self.onmessage = () => {};
