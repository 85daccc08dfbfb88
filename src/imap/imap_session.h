/* imap_session: one IMAP server session (RFC 9051 IMAP4rev2, RFC 3501
 * IMAP4rev1) on a conn, over the per-account mailbox index (mailbox.h)
 * and the Maildir++ folders of the account. Used on the imap (143,
 * STARTTLS offered) and imaps (993, implicit TLS) listeners. */
#ifndef MOAT_IMAP_SESSION_H
#define MOAT_IMAP_SESSION_H

#include <stdbool.h>

#include <uv.h>

#include "config.h"
#include "session.h"

struct store;

/* What every IMAP session of a worker shares (base.sessions: drain and
 * the per address and per account limits). */
struct imap_server {
	struct session_server	 base;
	struct store		*store;
};

/* Accept a connection on an imap or imaps listener. */
void imap_session_accept(struct imap_server *srv, uv_stream_t *listener,
    enum listen_service service);
/* Shutdown goes through session_server_drain(&srv->base): sessions
 * waiting for a command get "* BYE" and close now, busy ones close when
 * their step ends; at the drain timeout session_server_abort_all()
 * closes every session whose step is not running. */

#endif
