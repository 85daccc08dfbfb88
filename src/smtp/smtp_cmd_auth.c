/* smtp_cmd_auth: SMTP AUTH (RFC 4954) and the policy that depends on who
 * the client is: which mechanisms are offered, the submission ports'
 * requirement to authenticate, the authenticated sender's ownership of
 * its envelope and header From addresses, and who may relay.
 *
 * The SASL steps run in the thread pool (auth_run.h): the session stops
 * reading until a step is done. A failure is answered after a delay that
 * grows with the session's failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_events.h"
#include "auth_run.h"
#include "cidr.h"
#include "log.h"
#include "screen.h"
#include "sasl.h"
#include "util.h"
#include "xalloc.h"

#include "smtp_session_private.h"

#define AUTH_FROM_HEADER_MAX 4096	/* unfolded From: we look at */
#define AUTH_FROM_ADDRS_MAX 32

static unsigned
auth_flags(const struct smtp_session *s)
{
	return auth_sasl_flags(s->srv->base.cfg, smtp_is_tls(s),
	    s->base.conn->peer_ip);
}

/* AUTH is offered on the submission ports only: port 25 is for other
 * servers, and offering it there invites password guessing. */
static bool
auth_offered(const struct smtp_session *s)
{
	return s->service == SERVICE_SUBMISSION ||
	    s->service == SERVICE_SUBMISSIONS;
}

void
smtp_auth_ehlo(struct smtp_session *s)
{
	struct sasl_params p = { .flags = auth_flags(s) };
	struct sasl_cbind cb;
	char mechs[SASL_MECHS_MAX];

	if (!auth_offered(s) || s->authenticated)
		return;
	memset(&cb, 0, sizeof(cb));
	if (smtp_is_tls(s) && sasl_cbind_from_ssl(s->base.conn->ssl, &cb) == 0)
		p.cbind = &cb;
	if (sasl_mechanisms(&p, mechs, sizeof(mechs)) == 0 && mechs[0] != '\0')
		conn_printf(s->base.conn, "250-AUTH %s\r\n", mechs);
}

static void
auth_end(struct smtp_session *s)
{
	sasl_free(&s->sasl);
	smtp_enter_state(s, SMTP_STATE_READY);
}

static void
auth_delay_done(uv_timer_t *t)
{
	struct smtp_session *s = t->data;

	s->auth_busy = false;
	if (s->base.conn_gone) {
		smtp_free(s);
		return;
	}
	conn_flush(s->base.conn);
	smtp_session_resume(s);
}

static void
auth_done(struct auth_step *st, int status)
{
	struct smtp_session *s = st->ctx;
	enum sasl_fail fail = st->reply.fail;
	const char *enh, *text, *error;
	struct screen_refusal r;
	bool on = true, banned;
	int code;

	(void)status;
	if (s->base.conn_gone) {
		s->auth_busy = false;
		sasl_free(&s->sasl);
		smtp_free(s);
		return;
	}
	switch (st->reply.status) {
	case SASL_CONTINUE:
		/* Challenges are not logged: they are part of the exchange. */
		conn_printf(s->base.conn, "334 %s\r\n", st->challenge);
		s->auth_busy = false;
		conn_flush(s->base.conn);
		smtp_session_resume(s);
		return;
	case SASL_OK:
		s->authenticated = true;
		moat_strlcpy(s->auth_user, st->user, sizeof(s->auth_user));
		s->auth_relay = true;
		if (store_account_get_setting(s->srv->store, s->auth_user,
		    "relay", &on, &error) == 0)
			s->auth_relay = on;
		{
			struct auth_attempt a = {
				.service = config_service_name(s->service),
				.ip = s->base.conn->peer_ip,
				.user = s->auth_user,
				.ok = true,
			};

			(void)auth_event(s->srv->base.screen, s->srv->store, &a,
			    &s->trace, &r);
		}
		auth_end(s);
		if (smtp_hijack_auth_ok(s)) {
			s->authenticated = false;
			s->auth_user[0] = '\0';
			s->auth_busy = false;
			conn_flush(s->base.conn);
			smtp_session_resume(s);
			return;
		}
		smtp_reply(s, 235, "2.7.0 Authentication successful");
		s->auth_busy = false;
		conn_flush(s->base.conn);
		smtp_session_resume(s);
		return;
	case SASL_FAIL:
		break;
	}
	sasl_fail_smtp(fail, &code, &enh, &text);
	{
		struct auth_attempt a = {
			.service = config_service_name(s->service),
			.ip = s->base.conn->peer_ip,
			.user = st->user[0] ? st->user : NULL,
			.ok = false,
			.reason = sasl_fail_name(fail),
			.fingerprint = st->reply.fingerprint,
		};

		memset(&r, 0, sizeof(r));
		banned = auth_event(s->srv->base.screen, s->srv->store, &a,
		    &s->trace, &r);
	}
	auth_end(s);
	smtp_reply(s, code, "%s %s", enh, text);
	if (banned && r.shadow) {
		s->reject_shadow = true;
		s->reject_rule = r.rule;
		smtp_log_reject(s, 421, r.text);
	} else if (banned) {
		/* The attempt that crossed the threshold ends it here. */
		smtp_refuse(s, r.rule, 421, "4.7.0 %s %s",
		    s->srv->base.cfg->hostname, r.text);
		s->auth_busy = false;
		smtp_close(s);
		return;
	}
	if (auth_fail_is_guess(fail)) {
		/* The answer waits; the session reads nothing meanwhile. */
		uv_timer_start(&s->auth_timer, auth_delay_done,
		    auth_failure_delay_ms(++s->auth_failures), 0);
		smtp_count_error(s);
		return;
	}
	s->auth_busy = false;
	smtp_count_error(s);
	conn_flush(s->base.conn);
	smtp_session_resume(s);
}

/* The session reads nothing while a step runs. */
static void
auth_wait(struct smtp_session *s)
{
	s->auth_busy = true;
	conn_pause(s->base.conn);
	uv_timer_stop(&s->base.timer);
}

void
cmd_auth(struct smtp_session *s, const char *args, size_t len)
{
	const char *sp;
	size_t mlen;

	if (!auth_offered(s)) {
		smtp_reply(s, 502, "5.5.1 Error: authentication not enabled "
		    "on this port; use submission (587 or 465)");
		smtp_count_error(s);
		return;
	}
	if (s->authenticated) {
		smtp_reply(s, 503, "5.5.1 Error: already authenticated");
		smtp_count_error(s);
		return;
	}
	sp = memchr(args, ' ', len);
	mlen = sp ? (size_t)(sp - args) : len;
	s->auth_service.data_dir = s->srv->base.cfg->data_dir;
	s->auth_service.service = "smtp";	/* the smtp=on|off setting */
	moat_strlcpy(s->auth_service.ip, s->base.conn->peer_ip,
	    sizeof(s->auth_service.ip));
	s->auth_service.dyn = s->srv->base.screen != NULL ?
	    screen_dyn(s->srv->base.screen) : NULL;
	s->sasl = auth_sasl_begin(&s->auth_service, &s->sasl_lookup,
	    &s->sasl_cbind, auth_flags(s),
	    smtp_is_tls(s) ? s->base.conn->ssl : NULL);
	if (auth_run_start(s->srv->base.loop, s->sasl, args, mlen, sp ? sp + 1 :
	    NULL, sp ? len - mlen - 1 : 0, auth_done, s) < 0) {
		sasl_free(&s->sasl);
		smtp_reply(s, 501, "5.5.4 Syntax: AUTH mechanism "
		    "[initial-response]");
		smtp_count_error(s);
		return;
	}
	smtp_enter_state(s, SMTP_STATE_AUTH);
	auth_wait(s);
}

void
smtp_auth_line(struct smtp_session *s, const char *line, size_t len)
{
	auth_run_line(s->srv->base.loop, s->sasl, line, len, auth_done, s);
	auth_wait(s);
}

/* ---- relay and sender policy ------------------------------------------ */

bool
smtp_may_relay(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	bool recent = false;

	if (s->authenticated)
		return s->auth_relay;
	if (cidr_match_any(cfg->trusted, cfg->ntrusted, s->base.conn->peer_ip))
		return true;
	if (cfg->pop_before_smtp && store_login_recent(s->srv->store,
	    s->base.conn->peer_ip,
	    time(NULL) - (time_t)cfg->pop_before_smtp_window, &recent) == 0 &&
	    recent)
		return true;
	return false;
}

bool
smtp_auth_required(const struct smtp_session *s)
{
	return (s->service == SERVICE_SUBMISSION ||
	    s->service == SERVICE_SUBMISSIONS) && !s->authenticated;
}

/* Is account in the comma-separated list? */
static bool
account_in_list(const char *list, const char *account)
{
	size_t alen = strlen(account);

	while (*list != '\0') {
		size_t len;

		while (*list == ' ' || *list == ',' || *list == '\t')
			list++;
		len = strcspn(list, ", \t");
		if (len == alen && ascii_nieq(list, account, len))
			return true;
		list += len;
	}
	return false;
}

/* 1 owned, 0 not, -1 database error. */
int
smtp_sender_owned(struct smtp_session *s, const char *addr)
{
	bool owned = false;

	if (!s->authenticated || addr[0] == '\0')
		return 1;	/* unauthenticated, or the null sender */
	if (account_in_list(s->srv->base.cfg->any_sender, s->auth_user))
		return 1;	/* [auth] any_sender: e.g. a mailing robot */
	if (store_sender_owned(s->srv->store, s->auth_user, addr, &owned) < 0)
		return -1;
	return owned ? 1 : 0;
}

/* The addr-specs of the From: header of a message (headers end at the
 * first empty line). Returns how many were found. */
static size_t
from_header_addrs(const uint8_t *msg, size_t len, char addrs[][SMTP_PATH_MAX],
    size_t max)
{
	char val[AUTH_FROM_HEADER_MAX];
	size_t pos = 0, vlen = 0, n = 0, i;
	bool in_from = false;

	while (pos < len) {
		const uint8_t *nl = memchr(msg + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (msg + pos)) : len - pos;
		const char *line = (const char *)msg + pos;

		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break;	/* end of the header section */
		if (line[0] == ' ' || line[0] == '\t') {
			if (in_from)
				for (i = 0; i < llen && vlen + 1 < sizeof(val);
				    i++)
					val[vlen++] = line[i];
		} else if (in_from) {
			break;		/* the From: field has ended */
		} else if (llen >= 5 && ascii_nieq(line, "From:", 5)) {
			in_from = true;
			for (i = 5; i < llen && vlen + 1 < sizeof(val); i++)
				val[vlen++] = line[i];
		}
		pos += (nl ? (size_t)(nl - (msg + pos)) + 1 : len - pos);
	}
	val[vlen] = '\0';
	/* Angle-bracketed addresses, else bare words with an '@'. Quoted
	 * display names may contain '<' or '@': skip quoted strings. */
	for (i = 0; i < vlen && n < max;) {
		if (val[i] == '"') {
			for (i++; i < vlen && val[i] != '"'; i++)
				if (val[i] == '\\')
					i++;
			i++;
			continue;
		}
		if (val[i] == '<') {
			size_t e = i + 1;

			while (e < vlen && val[e] != '>')
				e++;
			if (e - i - 1 < SMTP_PATH_MAX) {
				memcpy(addrs[n], val + i + 1, e - i - 1);
				addrs[n][e - i - 1] = '\0';
				n++;
			}
			i = e + 1;
			continue;
		}
		if (val[i] != ' ' && val[i] != '\t' && val[i] != ',') {
			size_t e = i;
			bool at = false;

			while (e < vlen && val[e] != ' ' && val[e] != '\t' &&
			    val[e] != ',' && val[e] != '<') {
				at |= val[e] == '@';
				e++;
			}
			if (at && e - i < SMTP_PATH_MAX) {
				memcpy(addrs[n], val + i, e - i);
				addrs[n][e - i] = '\0';
				n++;
			}
			i = e;
			continue;
		}
		i++;
	}
	return n;
}

int
smtp_header_from_owned(struct smtp_session *s, const uint8_t *msg,
    size_t len, char *bad, size_t badlen)
{
	char addrs[AUTH_FROM_ADDRS_MAX][SMTP_PATH_MAX];
	size_t n, i;
	int r;

	if (!s->authenticated)
		return 1;
	n = from_header_addrs(msg, len, addrs, AUTH_FROM_ADDRS_MAX);
	for (i = 0; i < n; i++) {
		if ((r = smtp_sender_owned(s, addrs[i])) != 1) {
			moat_strlcpy(bad, addrs[i], badlen);
			return r;
		}
	}
	return 1;
}
