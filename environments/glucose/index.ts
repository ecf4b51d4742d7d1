export * from './twin.js';
