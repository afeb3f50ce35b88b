export * from './constants.js';
export * from './events.js';
export * from './frames.js';
export * from './input.js';
