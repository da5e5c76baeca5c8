// Starts the kill test's bundled server (a CommonJS file) with a V8 code cache kept beside it, so each of the
// hundred restarts skips compiling the bundle again. The child writes the cache once it is warm (__wecardWriteCodeCache).
const fs = require('node:fs');
const vm = require('node:vm');
const path = require('node:path');
const Module = require('node:module');

const file = path.resolve(process.argv[2]);
const cacheFile = `${file}.v8cache`;
const source = fs.readFileSync(file, 'utf8');
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: file, cachedData, importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
const m = new Module(file, null);
m.filename = file;
m.paths = Module._nodeModulePaths(path.dirname(file));
globalThis.__wecardWriteCodeCache = () => {
  if (cachedData && !script.cachedDataRejected) return;
  const tmp = `${cacheFile}.${process.pid}`;
  fs.writeFileSync(tmp, script.createCachedData());
  fs.renameSync(tmp, cacheFile);
};
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(file), m, file, path.dirname(file));
