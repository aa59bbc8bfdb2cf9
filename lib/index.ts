export * from './compliance';
export * from './control-plane';
export * from './phoenix-function';
export * from './phoenix-stack';
export * from './replace-workflow';
export * from './rollout-workflow';
