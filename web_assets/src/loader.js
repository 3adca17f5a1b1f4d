// Placeholder loader until the tracker lands: starts the hashed worker from a same-origin Blob.
/* global __PUTONLY_WORKER__ */
(() => {
  const script = document.currentScript;
  const base = new URL('.', script.src).href;
  const blob = new Blob([`importScripts(${JSON.stringify(base + __PUTONLY_WORKER__)})`], { type: 'text/javascript' });
  window.putonly = { worker: new Worker(URL.createObjectURL(blob)) };
})();
