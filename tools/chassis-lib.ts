// (moved to src/sandbox, shipped with the package for ovn-natgw-drill)
export * from '../src/sandbox/chassis-lib.js';
