/* session: the part of a connection session that is the same whatever
 * the protocol (smtp, pop3, imap, web): its id, its conn, the idle
 * timer, its place on the server's session list, the session limit, and
 * draining at shutdown. A protocol session embeds struct session as its
 * first member and keeps its states, replies and commands to itself;
 * what differs per protocol comes in through struct session_class. */
#ifndef MOAT_SESSION_H
#define MOAT_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <uv.h>

#include "config.h"

struct conn;
struct conn_ops;
struct screen;
struct session;

#define SESSION_ID_LEN 16	/* hex digits of the 64-bit session id */

/* What every session of one protocol in a worker shares. */
struct session_server {
	uv_loop_t		*loop;
	const struct config	*cfg;
	SSL_CTX			*ssl_ctx;
	struct screen		*screen;	/* screening (screen.h) */
	unsigned		 nsessions;
	bool			 draining;
	/* Called when the last session ends while draining. */
	void			(*on_idle)(struct session_server *srv);
	struct session		*sessions;	/* list: drain, limits */
};

/* What a protocol tells the shared part; one static const per protocol. */
struct session_class {
	const char		*name;		/* log prefix: "smtp" */
	const char *const	*state_names;	/* by the protocol's state */
	const struct conn_ops	*conn_ops;
	size_t			 in_max;	/* conn input limit */
	uv_timer_cb		 on_timeout;	/* timer.data: the session */
	/* Draining started (the server is draining): end the session now
	 * if it waits for its client. */
	void			(*drain)(struct session *ss);
	/* Drain timeout: end the session unless its step is running. */
	void			(*abort)(struct session *ss);
};

struct session {
	const struct session_class *cls;
	struct session_server	*srv;
	struct session		*next, *prev;	/* srv->sessions */
	char			 id[SESSION_ID_LEN + 1];
	struct conn		*conn;		/* NULL once conn_gone */
	bool			 conn_gone;
	uv_timer_t		 timer;		/* idle timeout */
	uv_timer_t		*aux_timer;	/* the protocol's, or NULL */
	unsigned		 handles_open;	/* timers still to close */
};

/* A new session on a listener: an id, the conn (whose ctx is the
 * protocol session, which starts with ss), the timers (aux_timer may be
 * NULL), its place on srv's list; the connect is logged. -1: no
 * connection; nothing to undo, the caller frees its session. */
int session_accept(struct session *ss, const struct session_class *cls,
    struct session_server *srv, uv_stream_t *listener,
    enum listen_service service, uv_timer_t *aux_timer);
/* Too many sessions on this server, or draining: refuse the new one. */
bool session_server_full(const struct session_server *srv);
/* Start TLS as server (implicit TLS or STARTTLS): 0, or -1 (no TLS
 * configured, or it could not start). */
int session_start_tls(struct session *ss);
/* The handshake finished: log what was agreed. */
void session_log_tls(const struct session *ss);
bool session_is_tls(const struct session *ss);

/* Log a state change (states are the protocol's, named by its class);
 * nothing when from == to. */
void session_log_state(const struct session *ss, unsigned from, unsigned to);
/* Log "event=timeout state=..." for the session's state. */
void session_log_timeout(const struct session *ss, unsigned state);

/* [limits] idle_timeout, or busy_timeout while the server has
 * busy_sessions or more: idle connections must not starve real ones. */
unsigned session_idle_secs(const struct session *ss);
/* (Re)start the idle timer: the class's on_timeout in secs seconds. */
void session_timer_start(struct session *ss, unsigned secs);
/* The same with session_idle_secs(). */
void session_timer_arm(struct session *ss);

/* The conn closed (from the protocol's on_close): it is not to be used
 * again. */
void session_conn_gone(struct session *ss);
/* Take the session off its server and free it once its timers are
 * closed; when it was the last one of a draining server, on_idle. The
 * protocol releases its own resources first. */
void session_free(struct session *ss);

/* Shutdown: draining starts; every session with a conn gets the class's
 * drain; on_idle when none is left. */
void session_server_drain(struct session_server *srv);
/* Drain timeout: every session with a conn gets the class's abort. */
void session_server_abort_all(struct session_server *srv);

#endif
