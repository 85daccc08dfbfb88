/* notify: mail to the admins about security events (a frozen account,
 * a banned address, an account failing its logins), queued like a DSN
 * (null sender, Auto-Submitted) so that it can never loop, and rate
 * limited per topic through the shared map so that an attack does not
 * become a mail flood. */
#ifndef MOAT_NOTIFY_H
#define MOAT_NOTIFY_H

#include <stddef.h>

#include <uv.h>

#include "config.h"

struct dynscreen;

#define NOTIFY_TO_MAX	16		/* admins per notification */
#define NOTIFY_BODY_MAX	(16 * 1024)

/* Who hears about account (NULL: a server-wide event): [hijack] admins
 * when set, else postmaster@ the account's domain (server-wide: the
 * domain of the server's hostname). to_r gets a comma list. */
void notify_admins(const struct config *cfg, const char *account,
    char *to_r, size_t len);

/* Queue the mail now (blocking: a pool thread or moatctl). to: a comma
 * list; body: plain text lines ending in CRLF. Returns 0 or -1. */
int notify_send(const struct config *cfg, const char *to,
    const char *session, const char *subject, const char *body);

/* From the loop: unless topic was notified within [dynamic]
 * notify_interval, queue the mail in the thread pool. */
void notify_async(uv_loop_t *loop, const struct config *cfg,
    struct dynscreen *dyn, const char *topic, const char *to,
    const char *subject, const char *body);

#endif
