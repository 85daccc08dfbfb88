/* smtp_hijack: where authenticated submission meets hijack detection
 * (hijack.h): a frozen account is refused at AUTH and MAIL, every
 * message is counted at the end of DATA (the one past a limit is refused
 * and freezes the account), queued messages record their recipients, and
 * a message whose Subject carries an unfreeze token is checked for being
 * from an admin. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dmarc.h"
#include "hijack.h"
#include "log.h"
#include "screen.h"
#include "smtp_session_private.h"

#define SUBJECT_MAX	300

static struct dynscreen *
dyn_of(const struct smtp_session *s)
{
	return s->srv->base.screen != NULL ?
	    screen_dyn(s->srv->base.screen) : NULL;
}

static void
msg_of(const struct smtp_session *s, const char *subject,
    struct hijack_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->account = s->auth_user;
	m->ip = s->base.conn != NULL ? s->base.conn->peer_ip : "-";
	m->session = s->base.id;
	m->rcpts = s->rcpts;
	m->nrcpts = s->nrcpts;
	m->subject = subject;
}

/* The Subject of the message (first line of it), "" when none. */
static void
subject_of(const struct smtp_session *s, char *out, size_t len)
{
	const char *p = (const char *)s->msg.data + s->received_len;
	const char *end = (const char *)s->msg.data + s->msg.len, *eol;
	size_t l;

	out[0] = '\0';
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		l = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0)
			return;		/* end of the header */
		if (l > 8 && strncasecmp(p, "Subject:", 8) == 0) {
			p += 8;
			l -= 8;
			while (l > 0 && (*p == ' ' || *p == '\t')) {
				p++;
				l--;
			}
			if (l >= len)
				l = len - 1;
			memcpy(out, p, l);
			out[l] = '\0';
			return;
		}
		if (eol == NULL)
			return;
		p = eol + 1;
	}
}

/* Is a DMARC-aligned pass from one of the admins' domains? */
static bool
admin_domain_pass(const struct smtp_session *s)
{
	const struct config *cfg = s->srv->base.cfg;
	const char *dom;
	char pat[300];

	if (s->dmarc_result == NULL ||
	    s->dmarc_result->status != DMARC_PASS ||
	    cfg->hj_admins[0] == '\0')
		return false;
	dom = s->dmarc_result->from_domain;
	snprintf(pat, sizeof(pat), "@%s", dom);
	/* An admin address at exactly the From domain. */
	return dom[0] != '\0' && strcasestr(cfg->hj_admins, pat) != NULL;
}

static void
refuse_frozen(struct smtp_session *s, const char *reason)
{
	char rule[HIJACK_REASON_MAX + 16];

	snprintf(rule, sizeof(rule), "hijack %s", reason);
	smtp_refuse(s, rule, 554, "5.7.1 Account %s is frozen (%s); the "
	    "postmaster has been told", s->auth_user, reason);
}

bool
smtp_hijack_mail(struct smtp_session *s)
{
	char reason[HIJACK_REASON_MAX];

	if (!s->authenticated || !hijack_frozen(dyn_of(s), s->auth_user,
	    reason, sizeof(reason)))
		return false;
	trace_add(&s->trace, "hijack", "%s is frozen: %s", s->auth_user,
	    reason);
	refuse_frozen(s, reason);
	return true;
}

bool
smtp_hijack_auth_ok(struct smtp_session *s)
{
	char reason[HIJACK_REASON_MAX];
	struct hijack_msg m;

	/* The shared flag, else the database as the login's lookup read it
	 * in the thread pool (the flag is lost with screen.map). */
	if (s->auth_service.frozen)
		snprintf(reason, sizeof(reason), "%s",
		    s->auth_service.frozen_reason);
	if (!hijack_frozen(dyn_of(s), s->auth_user, reason, sizeof(reason)) &&
	    !s->auth_service.frozen) {
		if (!hijack_login(s->srv->base.cfg, dyn_of(s), s->auth_user,
		    s->base.conn->peer_ip, reason, sizeof(reason)))
			return false;
		msg_of(s, NULL, &m);
		hijack_freeze(s->srv->base.loop, s->srv->base.cfg, dyn_of(s), &m,
		    reason);
		if (s->srv->base.cfg->hj_mode == MODE_SHADOW)
			return false;
	}
	trace_add(&s->trace, "hijack", "%s is frozen: %s", s->auth_user,
	    reason);
	{
		char rule[HIJACK_REASON_MAX + 16];

		snprintf(rule, sizeof(rule), "hijack %s", reason);
		smtp_refuse(s, rule, 535, "5.7.1 Account %s is frozen (%s); "
		    "ask the postmaster", s->auth_user, reason);
	}
	return true;
}

bool
smtp_hijack_data_end(struct smtp_session *s)
{
	char subject[SUBJECT_MAX], reason[HIJACK_REASON_MAX];
	struct hijack_msg m;
	bool admin;

	subject_of(s, subject, sizeof(subject));
	if (subject[0] != '\0' && strcasestr(subject, "unfreeze ") != NULL) {
		admin = (s->authenticated && hijack_is_admin(s->srv->base.cfg,
		    s->auth_user, NULL)) || admin_domain_pass(s);
		(void)hijack_reply(s->srv->base.loop, s->srv->base.cfg,
		    dyn_of(s), subject, admin, s->authenticated ? s->auth_user :
		    s->from[0] ? s->from : "<>", s->base.id);
	}
	if (!s->authenticated)
		return false;
	msg_of(s, subject, &m);
	if (!hijack_count(s->srv->base.cfg, dyn_of(s), &m, reason,
	    sizeof(reason)))
		return false;
	trace_add(&s->trace, "hijack", "%s over a limit: %s", s->auth_user,
	    reason);
	hijack_freeze(s->srv->base.loop, s->srv->base.cfg, dyn_of(s), &m,
	    reason);
	if (s->srv->base.cfg->hj_mode == MODE_SHADOW) {
		char rule[HIJACK_REASON_MAX + 16];

		snprintf(rule, sizeof(rule), "hijack %s", reason);
		s->reject_shadow = true;
		s->reject_rule = rule;
		smtp_log_reject(s, 554, "would freeze the account");
		return false;
	}
	refuse_frozen(s, reason);
	return true;
}

void
smtp_hijack_queued(struct smtp_session *s)
{
	struct hijack_msg m;

	if (!s->authenticated)
		return;
	msg_of(s, NULL, &m);
	hijack_after_queue(s->srv->base.loop, s->srv->base.cfg, dyn_of(s), &m);
}
