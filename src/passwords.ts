/**
 * `fastify-stateless-session/passwords`: argon2id password hashing at OWASP's cost (@node-rs/argon2, a native
 * module), for apps that keep their own users and want the hashing the standalone service uses.
 */
export { PasswordHasher, OWASP_ARGON2ID, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH, type PasswordHashCost } from './users/password-hasher.js'
