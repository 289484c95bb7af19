// (moved to src/sandbox, shipped with the package for ovn-natgw-drill)
export * from '../src/sandbox/sandbox-lib.js';
