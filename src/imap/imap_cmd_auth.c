/* imap_cmd_auth: the commands of any state (CAPABILITY, NOOP, LOGOUT,
 * ID, ENABLE) and logging in: STARTTLS (RFC 9051 6.2.1), LOGIN and
 * AUTHENTICATE with SASL-IR (RFC 4959).
 *
 * Both ways of logging in go through the SASL module in libuv's thread
 * pool, as SMTP AUTH and POP3 do: LOGIN runs as PLAIN, so unknown users,
 * the account's imap=on|off setting and the password check behave the
 * same everywhere. A failure is answered after a delay that grows with
 * the session's failures. After login the parser switches to the
 * authenticated limits and the special-use folders are created.
 *
 * SECURITY: passwords and SASL responses are wiped after use and never
 * logged. LOGIN and the PLAIN/LOGIN mechanisms are refused before TLS
 * (LOGINDISABLED) unless [auth] cleartext_loopback is set and the client
 * is on loopback (the SMTP rule). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_events.h"
#include "log.h"
#include "screen.h"
#include "maildir.h"
#include "sasl.h"
#include "scram.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#include "imap_session_private.h"

#define AUTH_MECH_MAX 32
#define PLAIN_MAX (SASL_USER_MAX + SASL_PASS_MAX + 2)
#define CAPS_MAX 1024

static unsigned
auth_flags(const struct imap_session *s)
{
	return s->base.conn == NULL ? 0 : auth_sasl_flags(s->srv->base.cfg,
	    imap_is_tls(s), s->base.conn->peer_ip);
}

bool
imap_cleartext_ok(const struct imap_session *s)
{
	return auth_flags(s) != 0;
}

void
imap_auth_mechs(struct imap_session *s, char *out, size_t outlen)
{
	struct sasl_params p = { .flags = auth_flags(s) };
	struct sasl_cbind cb;

	out[0] = '\0';
	memset(&cb, 0, sizeof(cb));
	if (imap_is_tls(s) && sasl_cbind_from_ssl(s->base.conn->ssl, &cb) == 0)
		p.cbind = &cb;
	if (sasl_mechanisms(&p, out, outlen) < 0)
		out[0] = '\0';
}

/* ---- simple commands ---------------------------------------------------- */

void
imap_cmd_capability(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	char caps[CAPS_MAX];

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_capabilities(s, caps, sizeof(caps));
	conn_printf(s->base.conn, "* CAPABILITY %s\r\n", caps);
	imap_tagged(s, "OK", NULL, "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	imap_tagged(s, "OK", NULL, "NOOP completed");
}

void
imap_cmd_logout(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	conn_printf(s->base.conn, "* BYE Logging out\r\n");
	imap_deselect(s);	/* LOGOUT does not expunge */
	imap_tagged(s, "OK", NULL, "LOGOUT completed");
	imap_close(s);
}

void
imap_cmd_id(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_id id;

	if (imap_parse_id(s->parser, c, &id, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	/* RFC 2971: the client's fields are not needed; no version is
	 * given away. */
	conn_printf(s->base.conn, "* ID (\"name\" \"moat\")\r\n");
	imap_tagged(s, "OK", NULL, "ID completed");
}

void
imap_cmd_enable(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_enable en;
	char done[64] = "";
	size_t i;

	if (imap_parse_enable(s->parser, c, &en, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	/* RFC 5161: only what we support and was not on yet is listed. */
	for (i = 0; i < en.count; i++) {
		if (imap_slice_ieq(en.caps[i], "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			moat_strlcat(done, " IMAP4rev2", sizeof(done));
		} else if (imap_slice_ieq(en.caps[i], "CONDSTORE") &&
		    !s->condstore) {
			s->condstore = true;
			moat_strlcat(done, " CONDSTORE", sizeof(done));
		} else if (imap_slice_ieq(en.caps[i], "QRESYNC") &&
		    !s->qresync) {
			/* RFC 7162 3.2.3: QRESYNC implies CONDSTORE. */
			s->qresync = true;
			s->condstore = true;
			moat_strlcat(done, " QRESYNC", sizeof(done));
		}
	}
	conn_printf(s->base.conn, "* ENABLED%s\r\n", done);
	imap_tagged(s, "OK", NULL, "ENABLE completed");
}

void
imap_cmd_starttls(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;

	if (imap_parse_no_args(c, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (s->srv->base.ssl_ctx == NULL || s->base.conn->ssl != NULL ||
	    s->service != SERVICE_IMAP) {
		imap_tagged(s, "NO", NULL, "TLS already active or not "
		    "available");
		imap_count_error(s);
		return;
	}
	imap_tagged(s, "OK", NULL, "Begin TLS negotiation now");
	/* conn discards plaintext pipelined behind STARTTLS (RFC 9051
	 * 6.2.1); so must the parser. */
	imap_parser_reset(s->parser);
	imap_enter_state(s, IMAP_STATE_TLS_WAIT);
	if (session_start_tls(&s->base) < 0) {
		log_warnx("imap session=%s event=tls-setup-failed", s->base.id);
		imap_close(s);
	}
}

/* ---- SASL in the pool ---------------------------------------------------- */

/* The session reads nothing while a SASL step runs in the pool. */
static void
auth_wait(struct imap_session *s)
{
	s->busy = true;
	conn_pause(s->base.conn);
	uv_timer_stop(&s->base.timer);
}

static void
auth_delay_done(uv_timer_t *t)
{
	struct imap_session *s = t->data;

	if (s->base.conn_gone) {
		imap_session_gone(s);
		return;
	}
	imap_cmd_finish(s);
}

static unsigned
sessions_of(struct imap_session *s, const char *user)
{
	struct session *ss;
	unsigned n = 0;

	for (ss = s->srv->base.sessions; ss != NULL; ss = ss->next) {
		/* Every session on this server is an imap_session. */
		const struct imap_session *o = (struct imap_session *)ss;

		if (o != s && !ss->conn_gone && strcmp(o->user, user) == 0)
			n++;
	}
	return n;
}

/* The credentials are right: find the Maildir, switch to the
 * authenticated limits. */
static void
login_ok(struct imap_session *s, const char *user)
{
	const char *at = strrchr(user, '@');
	char local[SASL_USER_MAX + 1], caps[CAPS_MAX], esc[LOG_ESC_MAX];
	uint64_t appendlimit = s->srv->base.cfg->message_size;

	{
		struct auth_attempt a = { .service = "imap",
		    .ip = s->base.conn->peer_ip, .user = user, .ok = true };
		char text[8];

		(void)auth_event_logged(s->srv->base.screen, s->srv->store, &a,
		    s->base.id, text, sizeof(text));
	}
	log_escape(esc, sizeof(esc), user, strlen(user));
	if (sessions_of(s, user) >= IMAP_SESSIONS_PER_USER) {
		log_info("imap session=%s event=too-many-sessions user=\"%s\"",
		    s->base.id, esc);
		imap_enter_state(s, IMAP_STATE_NOT_AUTH);
		imap_tagged(s, "NO", "LIMIT", "Too many sessions for this "
		    "account");
		return;
	}
	if (at == NULL || (size_t)(at - user) >= sizeof(local) ||
	    (memcpy(local, user, (size_t)(at - user)),
	    local[at - user] = '\0',
	    maildir_path(s->srv->base.cfg->data_dir, at + 1, local, s->maildir,
	    sizeof(s->maildir)) < 0) || maildir_create(s->maildir) < 0) {
		log_warnx("imap session=%s event=bad-maildir user=\"%s\"",
		    s->base.id, esc);
		imap_enter_state(s, IMAP_STATE_NOT_AUTH);
		imap_tagged(s, "NO", "UNAVAILABLE", "No mailbox for this "
		    "account");
		return;
	}
	moat_strlcpy(s->user, user, sizeof(s->user));
	imap_limits_auth(&s->limits, appendlimit);
	imap_parser_set_limits(s->parser, &s->limits);
	s->base.conn->in.max = (size_t)appendlimit + IMAP_LINE_MAX_AUTH +
	    IMAP_IN_SLACK;
	imap_enter_state(s, IMAP_STATE_AUTH);
	imap_special_folders(s);
	log_info("imap session=%s event=login user=\"%s\"", s->base.id, esc);
	imap_capabilities(s, caps, sizeof(caps));
	imap_tagged(s, "OK", NULL, "[CAPABILITY %s] Logged in", caps);
}

static void
auth_done(struct auth_step *j, int status)
{
	struct imap_session *s = j->ctx;
	const char *result, *code;
	enum sasl_fail fail;
	char bantext[320];
	bool banned;

	(void)status;
	if (s->base.conn_gone) {
		sasl_free(&s->sasl);
		imap_session_gone(s);
		return;
	}
	switch (j->reply.status) {
	case SASL_CONTINUE:
		conn_printf(s->base.conn, "+ %s\r\n", j->challenge);
		/* The command's input was dropped when the exchange began;
		 * response lines follow. */
		imap_cmd_finish(s);
		return;
	case SASL_OK:
		sasl_free(&s->sasl);
		login_ok(s, j->user);
		imap_cmd_finish(s);
		return;
	case SASL_FAIL:
		break;
	}
	{
		struct auth_attempt a = { .service = "imap",
		    .ip = s->base.conn->peer_ip,
		    .user = j->user[0] ? j->user : NULL, .ok = false,
		    .reason = sasl_fail_name(j->reply.fail),
		    .fingerprint = j->reply.fingerprint };

		banned = auth_event_logged(s->srv->base.screen, s->srv->store,
		    &a, s->base.id, bantext, sizeof(bantext));
	}
	sasl_free(&s->sasl);
	imap_enter_state(s, IMAP_STATE_NOT_AUTH);
	fail = j->reply.fail;
	sasl_fail_imap(fail, &result, &code);
	switch (fail) {
	case SASL_FAIL_ENCRYPT:
		imap_tagged(s, result, code, "Cleartext authentication is not "
		    "allowed: use STARTTLS or imaps");
		break;
	case SASL_FAIL_TEMP:
		imap_tagged(s, result, code, "Temporary authentication "
		    "failure");
		break;
	case SASL_FAIL_UNKNOWN_MECH:
		imap_tagged(s, result, code, "Unsupported mechanism");
		break;
	case SASL_FAIL_MALFORMED:
	case SASL_FAIL_TOO_LONG:
	case SASL_FAIL_CANCELLED:
		imap_tagged(s, result, code, "Authentication %s",
		    fail == SASL_FAIL_CANCELLED ? "cancelled" :
		    "data malformed");
		break;
	default:
		/* Credentials, authzid, channel binding, imap=off: one
		 * answer (the log says why). */
		imap_tagged(s, result, code, "Authentication failed");
		break;
	}
	if (banned) {
		/* The attempt that crossed the threshold ends it here. */
		conn_printf(s->base.conn, "* BYE [UNAVAILABLE] %s\r\n", bantext);
		imap_close(s);
		return;
	}
	imap_count_error(s);
	if (auth_fail_is_guess(fail)) {
		/* The answer is queued but not flushed: the client waits,
		 * and the session reads nothing meanwhile. */
		uv_timer_start(&s->aux_timer, auth_delay_done,
		    auth_failure_delay_ms(++s->auth_failures), 0);
		return;
	}
	imap_cmd_finish(s);
}

static void
sasl_begin(struct imap_session *s)
{
	s->auth_service.data_dir = s->srv->base.cfg->data_dir;
	s->auth_service.service = "imap";	/* the imap=on|off setting */
	moat_strlcpy(s->auth_service.ip, s->base.conn->peer_ip,
	    sizeof(s->auth_service.ip));
	s->auth_service.dyn = s->srv->base.screen != NULL ?
	    screen_dyn(s->srv->base.screen) : NULL;
	s->auth_service.refuse_frozen = !s->srv->base.cfg->hj_frozen_mail_access;
	s->sasl = auth_sasl_begin(&s->auth_service, &s->sasl_lookup,
	    &s->sasl_cbind, auth_flags(s),
	    imap_is_tls(s) ? s->base.conn->ssl : NULL);
}

void
imap_cmd_login(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_login lo;
	uint8_t plain[PLAIN_MAX];
	size_t n = 0;
	char *b64;

	if (imap_parse_login(c, &lo, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (!imap_cleartext_ok(s)) {
		log_info("imap session=%s event=cleartext-refused ip=%s",
		    s->base.id, s->base.conn->peer_ip);
		imap_tagged(s, "NO", "PRIVACYREQUIRED", "LOGIN is disabled "
		    "before TLS: use STARTTLS or imaps");
		imap_count_error(s);
		return;
	}
	if (lo.user.len == 0 || lo.user.len > SASL_USER_MAX ||
	    lo.password.len > SASL_PASS_MAX ||
	    memchr(lo.user.p, '\0', lo.user.len) != NULL ||
	    (lo.password.len > 0 &&
	    memchr(lo.password.p, '\0', lo.password.len) != NULL)) {
		imap_tagged(s, "NO", "AUTHENTICATIONFAILED",
		    "Authentication failed");
		imap_count_error(s);
		return;
	}
	/* PLAIN: authzid "" NUL authcid NUL passwd (RFC 4616 2). */
	plain[n++] = '\0';
	memcpy(plain + n, lo.user.p, lo.user.len);	/* UNSAFE: bounded */
	n += lo.user.len;
	plain[n++] = '\0';
	if (lo.password.len > 0)
		memcpy(plain + n, lo.password.p, lo.password.len);
	n += lo.password.len;
	b64 = xmalloc(SCRAM_B64_LEN(n) + 1);
	if (scram_b64_encode(plain, n, b64, SCRAM_B64_LEN(n) + 1) < 0)
		fatalx("imap: base64 of a bounded PLAIN message failed");
	explicit_bzero(plain, sizeof(plain));
	/* The password is in the input buffer: wipe it there too. */
	if (lo.password.len > 0)
		explicit_bzero((void *)(uintptr_t)lo.password.p,
		    lo.password.len);
	sasl_begin(s);
	if (auth_run_start(s->srv->base.loop, s->sasl, "PLAIN", 5, b64,
	    strlen(b64), auth_done, s) < 0)
		fatalx("imap: PLAIN is a valid mechanism name");
	explicit_bzero(b64, strlen(b64));
	free(b64);
	auth_wait(s);
}

void
imap_cmd_authenticate(struct imap_session *s, struct imap_command *c)
{
	struct imap_parse_error err;
	struct imap_authenticate au;

	if (imap_parse_authenticate(c, &au, &err) < 0) {
		imap_parse_failed(s, &err);
		return;
	}
	if (au.mech.len == 0 || au.mech.len >= AUTH_MECH_MAX ||
	    au.ir.len > SASL_RESPONSE_MAX) {
		imap_bad(s, "Bad mechanism or initial response");
		return;
	}
	sasl_begin(s);
	imap_enter_state(s, IMAP_STATE_SASL);
	/* SASL-IR: an empty initial response is sent as "=". */
	if (auth_run_start(s->srv->base.loop, s->sasl, (const char *)au.mech.p,
	    au.mech.len, !au.has_ir ? NULL : au.ir.len == 0 ? "=" :
	    (const char *)au.ir.p, !au.has_ir ? 0 : au.ir.len == 0 ? 1 :
	    au.ir.len, auth_done, s) < 0)
		fatalx("imap: mechanism length checked above");
	auth_wait(s);
}

void
imap_sasl_line(struct imap_session *s, const char *line, size_t len)
{
	s->cmd_consumed = 0;
	auth_run_line(s->srv->base.loop, s->sasl, line, len, auth_done, s);
	auth_wait(s);
}
