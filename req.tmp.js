const t0 = performance.now();
require('./dist/src/cli/main.js'); require('./dist/src/cli/install.js'); require('./dist/src/engine/install.js'); require('./dist/src/cli/engine-options.js'); require('./dist/src/cli/report.js'); require('./dist/src/engine/context.js'); require('./dist/src/dpkg/dpkg-db.js'); require('./dist/src/fs/lock.js');
const t1 = performance.now();
console.log('modules', Object.keys(require.cache).length, 'require ms', (t1 - t0).toFixed(1), 'boot', t0.toFixed(1));
