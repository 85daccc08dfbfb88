/* pop3_session: one POP3 server session (RFC 1939, CAPA RFC 2449, STLS
 * RFC 2595, AUTH RFC 5034) on a conn, over the mailbox index
 * (mailbox.h). Used on the pop3 (110, STLS offered) and pop3s (995,
 * implicit TLS) listeners. */
#ifndef MOAT_POP3_SESSION_H
#define MOAT_POP3_SESSION_H

#include <stdbool.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"

struct store;
struct screen;

/* What every POP3 session of a worker shares. */
struct pop3_server {
	uv_loop_t		*loop;
	const struct config	*cfg;
	SSL_CTX			*ssl_ctx;
	struct store		*store;
	struct screen		*screen;	/* screening (screen.h) */
	unsigned		 nsessions;
	bool			 draining;
	/* Called when the last session ends while draining. */
	void			(*on_idle)(struct pop3_server *srv);
	void			*data;		/* for on_idle */
	struct pop3_session	*sessions;	/* list, for drain */
};

/* Accept a connection on a pop3 or pop3s listener. */
void pop3_session_accept(struct pop3_server *srv, uv_stream_t *listener,
    enum listen_service service);
/* Idle sessions get "-ERR" and close now (no UPDATE: nothing they marked
 * deleted is removed); busy ones close when their step ends. */
void pop3_server_drain(struct pop3_server *srv);
/* Drain timeout: close every session whose step is not running. */
void pop3_server_abort_all(struct pop3_server *srv);

#endif
