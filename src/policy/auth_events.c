/* auth_events: login attempts from every service. */
#include "auth_events.h"

#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"

void
auth_event(struct store *st, const char *service, const char *ip,
    const char *user, bool ok, const char *reason)
{
	char esc[LOG_ESC_MAX];

	log_escape(esc, sizeof(esc), user ? user : "", user ? strlen(user) :
	    0);
	if (!ok) {
		log_info("auth service=%s ip=%s user=\"%s\" result=fail "
		    "reason=%s", service, ip, esc, reason ? reason : "-");
		return;
	}
	log_info("auth service=%s ip=%s user=\"%s\" result=ok", service, ip,
	    esc);
	/* POP-before-SMTP: mail access logins open the relay window. */
	if (st != NULL && (strcmp(service, "imap") == 0 ||
	    strcmp(service, "pop3") == 0) &&
	    store_login_record(st, ip, time(NULL)) < 0)
		log_warnx("auth service=%s ip=%s event=login-record-failed",
		    service, ip);
}
