/* pop3_session: one POP3 server session (RFC 1939, CAPA RFC 2449, STLS
 * RFC 2595, AUTH RFC 5034) on a conn, over the mailbox index
 * (mailbox.h). Used on the pop3 (110, STLS offered) and pop3s (995,
 * implicit TLS) listeners. */
#ifndef MOAT_POP3_SESSION_H
#define MOAT_POP3_SESSION_H

#include <stdbool.h>

#include <uv.h>

#include "config.h"
#include "session.h"

struct store;

/* What every POP3 session of a worker shares. */
struct pop3_server {
	struct session_server	 base;
	struct store		*store;
};

/* Accept a connection on a pop3 or pop3s listener. */
void pop3_session_accept(struct pop3_server *srv, uv_stream_t *listener,
    enum listen_service service);
/* Shutdown goes through session_server_drain(&srv->base): idle sessions
 * get "-ERR" and close now (no UPDATE: nothing they marked deleted is
 * removed), busy ones close when their step ends; at the drain timeout
 * session_server_abort_all() closes every session whose step is not
 * running. */

#endif
