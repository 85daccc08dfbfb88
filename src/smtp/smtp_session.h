/* smtp_session: one SMTP server session (RFC 5321) on a conn: the state
 * machine, the command table, replies, limits and timers, and handing the
 * finished message to the queue. Used on the smtp (25), submission (587)
 * and submissions (465) listeners. */
#ifndef MOAT_SMTP_SESSION_H
#define MOAT_SMTP_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"
#include "session.h"

struct store;
struct queue_commit;

/* What every session of a worker shares. */
struct smtp_server {
	struct session_server	 base;
	struct store		*store;
	struct queue_commit	*commit;
	struct dns		*dns;		/* NULL: no DNS checks */
};

/* Accept a connection on a listener of the given service. */
void smtp_session_accept(struct smtp_server *srv, uv_stream_t *listener,
    enum listen_service service);
/* Shutdown goes through session_server_drain(&srv->base): idle sessions
 * get 421 and close now, busy ones close after their current
 * transaction; at the drain timeout session_server_abort_all(): 421
 * and close every session not committing. */
/* Load the content-filter rules ([filter] rules) now and look for
 * changes every second (smtp_filter_rules.c). */
void smtp_filter_rules_start(uv_loop_t *loop, const struct config *cfg);

#endif
