/** Types of verify-assertion.mjs, for the TypeScript test that runs it. */
export interface AssertionIdentity { id: string, username: unknown, roles: unknown, sessionId: unknown, authTime: unknown }
export function assertionVerifier (options: { jwksUrl: string, issuer: string, audience: string }): (assertion: unknown) => Promise<AssertionIdentity>
