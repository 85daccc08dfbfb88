/* auth_events: login attempts from every service. */
#include "auth_events.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "screen.h"
#include "store.h"
#include "trace.h"

bool
auth_event(struct screen *sc, struct store *st, const struct auth_attempt *a,
    struct trace *t, struct screen_refusal *r)
{
	char esc[LOG_ESC_MAX];
	const char *user = a->user;

	log_escape(esc, sizeof(esc), user ? user : "", user ? strlen(user) :
	    0);
	if (!a->ok)
		log_info("auth service=%s ip=%s user=\"%s\" result=fail "
		    "reason=%s", a->service, a->ip, esc, a->reason ?
		    a->reason : "-");
	else
		log_info("auth service=%s ip=%s user=\"%s\" result=ok",
		    a->service, a->ip, esc);
	if (t != NULL)
		trace_add(t, "login", "%s as %s: %s", a->service,
		    user ? user : "-", a->ok ? "ok" : a->reason ? a->reason :
		    "failed");
	/* POP-before-SMTP: mail access logins open the relay window. */
	if (a->ok && st != NULL && (strcmp(a->service, "imap") == 0 ||
	    strcmp(a->service, "pop3") == 0) &&
	    store_login_record(st, a->ip, time(NULL)) < 0)
		log_warnx("auth service=%s ip=%s event=login-record-failed",
		    a->service, a->ip);
	if (sc == NULL)
		return false;
	return screen_login(sc, a->service, a->ip, user, a->ok,
	    a->fingerprint, t, r) == SCREEN_REFUSE;
}
bool
auth_event_logged(struct screen *sc, struct store *st,
    const struct auth_attempt *a, const char *session, char *text,
    size_t textlen)
{
	struct screen_refusal r;
	struct trace t = { 0 };
	char ref[TRACE_REF_LEN + 1];
	bool banned;

	memset(&r, 0, sizeof(r));
	banned = auth_event(sc, st, a, &t, &r);
	if (banned) {
		/* A shadow ban is only logged. */
		screen_log_refusal(sc, a->service, session, a->ip, a->user,
		    0, &r, &t);
		trace_ref(session, ref);
		snprintf(text, textlen, "%s [ref %s]", r.text, ref);
	}
	trace_free(&t);
	return banned && !r.shadow;
}
