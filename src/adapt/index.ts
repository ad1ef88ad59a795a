export * from './run-adapt.js';
