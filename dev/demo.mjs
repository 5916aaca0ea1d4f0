// Identities of the demo API, shared by `make dev`, wrangler.toml's dev environment and the tests.
export const DEMO_TENANT = '3c6d1c5e-8f0a-4b8e-9d3c-2a1f6e7b9c41';
export const PARTNER_TENANT = '5a8e2b71-0c4d-4f9e-a1b2-c3d4e5f60718';
export const FOREIGN_TENANT = 'e9f8d7c6-b5a4-4321-8fed-cba987654321';
export const API_CLIENT_ID = '6e2f9a47-1b3c-4d5e-8f70-9a8b7c6d5e4f';
export const API_APP_ID_URI = 'api://entra-edge-demo';
export const SPA_CLIENT_ID = '0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
export const DAEMON_CLIENT_ID = '7d6c5b4a-3928-4170-b6e5-d4c3b2a19080';
