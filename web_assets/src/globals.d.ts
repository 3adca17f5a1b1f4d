// Set by build.mjs: the content-hashed file name of the worker bundle.
declare const __PUTONLY_WORKER__: string;
