/**
 * Audit events: one structured log line each, with user and family ids and never a token, cookie value or
 * password (ASVS 16.2.5, 16.3.1). Security events (refresh token reuse, cross-site requests refused, rate limits
 * hit) are warnings; the rest info.
 */
import type { FastifyBaseLogger } from 'fastify'

export type AuditEvent =
  | 'login.succeeded'
  | 'login.failed'
  | 'refresh.succeeded'
  | 'refresh.failed'
  | 'refresh.reuse_detected'
  | 'logout'
  | 'logout_all'
  | 'session.ended'
  | 'csrf.rejected'
  | 'login.rate_limited'
  | 'refresh.rate_limited'
  | 'user.added'
  | 'user.password_changed'
  | 'user.roles_changed'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.deleted'
  | 'sessions.others_ended'
  | 'password.changed'
  | 'password.change_failed'
  | 'password.rate_limited'
  | 'signup'
  | 'signup.failed'
  | 'signup.rate_limited'
  | 'admin.forbidden'
  | 'admin.refused'
  | 'admin.users_listed'
  | 'admin.user_read'
  | 'admin.user_created'
  | 'admin.user_deleted'
  | 'admin.user_disabled'
  | 'admin.user_enabled'
  | 'admin.roles_changed'
  | 'admin.password_set'
  | 'admin.sessions_listed'
  | 'admin.sessions_ended'
  | 'admin.session_ended'
  | 'cli.sessions_listed'
  | 'cli.sessions_ended'
  | 'reauth.succeeded'
  | 'reauth.failed'
  | 'reauth.rate_limited'
  | 'reauth.required'
  | 'login.second_factor_required'
  | 'login.second_factor_failed'
  | 'login.second_factor_rate_limited'
  | 'mfa.enrolment_started'
  | 'mfa.enrolled'
  | 'mfa.removed'
  | 'mfa.recovery_codes_renewed'
  | 'admin.mfa_reset'
  | 'cli.mfa_reset'

const WARNINGS = new Set<AuditEvent>([
  'refresh.reuse_detected', 'csrf.rejected', 'login.rate_limited', 'refresh.rate_limited',
  'password.rate_limited', 'signup.rate_limited', 'admin.forbidden', 'admin.refused', 'reauth.rate_limited',
  'login.second_factor_failed', 'login.second_factor_rate_limited'
])

export function audit (log: FastifyBaseLogger, event: AuditEvent, fields: Record<string, unknown> = {}): void {
  const line = { audit: event, ...fields }
  if (WARNINGS.has(event)) log.warn(line, event)
  else log.info(line, event)
}
