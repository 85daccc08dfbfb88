/* auth_events: the one function every service (SMTP AUTH, IMAP, POP3,
 * web) calls after a login attempt. It logs the attempt, records the
 * client address of successful IMAP/POP3 logins for POP-before-SMTP, and
 * is where dynamic screening counts failures per address and account. */
#ifndef MOAT_AUTH_EVENTS_H
#define MOAT_AUTH_EVENTS_H

#include <stdbool.h>

struct store;

void auth_event(struct store *st, const char *service, const char *ip,
    const char *user, bool ok, const char *reason);

#endif
