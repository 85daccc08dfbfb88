/* session: the life cycle every protocol session shares (see session.h):
 * accept (id, conn, timers, list, count), the idle timer, freeing once
 * the timers are closed, and the drain loops. Replies, states and what a
 * session does when it drains stay with the protocol. */
#include "session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "tls.h"

static void
session_timer_init(struct session *ss, uv_timer_t *t)
{
	uv_timer_init(ss->srv->loop, t);
	t->data = ss;
	ss->handles_open++;
}

int
session_accept(struct session *ss, const struct session_class *cls,
    struct session_server *srv, uv_stream_t *listener,
    enum listen_service service, uv_timer_t *aux_timer)
{
	uint64_t rnd;

	ss->cls = cls;
	ss->srv = srv;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)ss;
	snprintf(ss->id, sizeof(ss->id), "%016" PRIx64, rnd);
	/* The conn's ctx is the protocol session: ss is its first member. */
	ss->conn = conn_accept(listener, cls->conn_ops, ss, cls->in_max);
	if (ss->conn == NULL)
		return -1;
	session_timer_init(ss, &ss->timer);
	ss->aux_timer = aux_timer;
	if (aux_timer != NULL)
		session_timer_init(ss, aux_timer);
	ss->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = ss;
	srv->sessions = ss;
	srv->nsessions++;
	log_info("%s session=%s event=connect service=%s ip=%s port=%u",
	    cls->name, ss->id, config_service_name(service), ss->conn->peer_ip,
	    (unsigned)ss->conn->peer_port);
	return 0;
}

bool
session_server_full(const struct session_server *srv)
{
	return srv->nsessions > srv->cfg->sessions || srv->draining;
}

int
session_start_tls(struct session *ss)
{
	if (ss->srv->ssl_ctx == NULL ||
	    conn_start_tls(ss->conn, ss->srv->ssl_ctx) < 0)
		return -1;
	return 0;
}

void
session_log_tls(const struct session *ss)
{
	char desc[160];

	if (tls_describe(ss->conn->ssl, desc, sizeof(desc)) == 0)
		log_info("%s session=%s event=tls %s", ss->cls->name, ss->id,
		    desc);
}

bool
session_is_tls(const struct session *ss)
{
	return ss->conn != NULL && ss->conn->ssl != NULL &&
	    ss->conn->tls_ready;
}

void
session_log_state(const struct session *ss, unsigned from, unsigned to)
{
	if (from != to)
		log_debug("%s session=%s state %s -> %s", ss->cls->name,
		    ss->id, ss->cls->state_names[from],
		    ss->cls->state_names[to]);
}

void
session_log_timeout(const struct session *ss, unsigned state)
{
	log_info("%s session=%s event=timeout state=%s", ss->cls->name,
	    ss->id, ss->cls->state_names[state]);
}

unsigned
session_idle_secs(const struct session *ss)
{
	const struct config *cfg = ss->srv->cfg;

	return ss->srv->nsessions >= cfg->busy_sessions ?
	    cfg->busy_timeout : cfg->idle_timeout;
}

void
session_timer_start(struct session *ss, unsigned secs)
{
	uv_timer_start(&ss->timer, ss->cls->on_timeout,
	    (uint64_t)secs * 1000, 0);
}

void
session_timer_arm(struct session *ss)
{
	session_timer_start(ss, session_idle_secs(ss));
}

void
session_conn_gone(struct session *ss)
{
	ss->conn_gone = true;
	ss->conn = NULL;
}

static void
session_timer_closed(uv_handle_t *h)
{
	struct session *ss = h->data;

	/* The protocol session starts with ss: this frees all of it. */
	if (--ss->handles_open == 0)
		free(ss);
}

void
session_free(struct session *ss)
{
	struct session_server *srv = ss->srv;

	if (ss->prev != NULL)
		ss->prev->next = ss->next;
	else
		srv->sessions = ss->next;
	if (ss->next != NULL)
		ss->next->prev = ss->prev;
	srv->nsessions--;
	uv_close((uv_handle_t *)&ss->timer, session_timer_closed);
	if (ss->aux_timer != NULL)
		uv_close((uv_handle_t *)ss->aux_timer, session_timer_closed);
	if (srv->draining && srv->nsessions == 0 && srv->on_idle != NULL)
		srv->on_idle(srv);
}

void
session_server_drain(struct session_server *srv)
{
	struct session *ss, *next;

	srv->draining = true;
	for (ss = srv->sessions; ss != NULL; ss = next) {
		next = ss->next;
		if (!ss->conn_gone)
			ss->cls->drain(ss);
	}
	if (srv->nsessions == 0 && srv->on_idle != NULL)
		srv->on_idle(srv);
}

void
session_server_abort_all(struct session_server *srv)
{
	struct session *ss, *next;

	for (ss = srv->sessions; ss != NULL; ss = next) {
		next = ss->next;
		if (!ss->conn_gone)
			ss->cls->abort(ss);
	}
}
