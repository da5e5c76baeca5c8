// The sandbox face check's public face: the route that issues face tokens and the FaceVerifier that redeems them.
export { sandboxFaceRoutes } from './routes.ts';
export { sandboxFaceVerifier, issueFaceToken, FACE_TOKEN_TTL_MS } from './store.ts';
