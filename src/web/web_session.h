/* web_session: the [listen] web service, HTTPS with implicit TLS using
 * the server's [tls] certificate. It answers the one-click unsubscribe
 * URL that list copies carry in List-Unsubscribe when [lists] web_url is
 * set (RFC 8058): GET shows a page with a button and changes nothing
 * (link scanners fetch links), POST with List-Unsubscribe=One-Click
 * removes that member from that list. One request per connection. */
#ifndef MOAT_WEB_SESSION_H
#define MOAT_WEB_SESSION_H

#include <stdbool.h>

#include <uv.h>

#include "config.h"
#include "session.h"

/* What every web session of a worker shares. */
struct web_server {
	struct session_server	 base;
};

/* Accept a connection on a web listener. */
void web_session_accept(struct web_server *srv, uv_stream_t *listener);
/* Shutdown goes through session_server_drain(&srv->base): sessions still
 * waiting for a request close now, one whose store call is running
 * answers, then closes; at the drain timeout session_server_abort_all()
 * closes every session whose store call is not running. */

#endif
