/* screen: the worker's screening decisions over static rules, the shared
 * dynamic state and DNS blocklists. */
#include "screen.h"

#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cidr.h"
#include "dnsbl.h"
#include "dynscreen.h"
#include "log.h"
#include "notify.h"
#include "reject_log.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#define SCREEN_RELOAD_MS	1000	/* rule changes apply within this */
#define SCREEN_NAT_MAX		32	/* [dynamic] nat_exempt entries */
#define SCREEN_NAME_MAX		64	/* a honeypot name */

struct nat_exempt {
	char		 domain[256];
	struct cidr	 net;
};

struct screen {
	uv_loop_t		*loop;
	const struct config	*cfg;
	struct dynscreen	*dyn;
	struct screen_rules	*rules;
	bool			 has_host_rules;
	uint64_t		 generation;
	bool			 loading;
	bool			 closing;
	uv_timer_t		 timer;
	struct dnsbl_config	 dnsbl;
	bool			 dnsbl_on;
	struct nat_exempt	 nat[SCREEN_NAT_MAX];
	unsigned		 nnat;
};

static const char *const metric_names[DYNCFG_COUNT] = {
	"unknown_rcpt", "auth_fail", "connections", "protocol_errors",
	"relay_attempts",
};

/* ---- configuration ------------------------------------------------ */

/* "domain=cidr, domain=cidr": failed logins of the domain's users from
 * that network (an office behind one NAT address) never count toward a
 * ban of the address. */
static bool
add_nat(void *ctx, const char *item, size_t len)
{
	struct screen *sc = ctx;
	struct nat_exempt *n = &sc->nat[sc->nnat];
	const char *eq = memchr(item, '=', len);
	char net[64];
	size_t dl = eq ? (size_t)(eq - item) : 0;

	if (sc->nnat == SCREEN_NAT_MAX)
		return true;
	if (eq == NULL || dl == 0 || dl >= sizeof(n->domain) ||
	    len - dl - 1 >= sizeof(net)) {
		log_warnx("screen: [dynamic] nat_exempt: ignoring '%.*s' "
		    "(want domain=network)", (int)len, item);
		return false;
	}
	memcpy(net, eq + 1, len - dl - 1);
	net[len - dl - 1] = '\0';
	if (cidr_parse(net, &n->net) < 0) {
		log_warnx("screen: [dynamic] nat_exempt: '%s' is not a "
		    "network", net);
		return false;
	}
	memcpy(n->domain, item, dl);
	n->domain[dl] = '\0';
	sc->nnat++;
	return false;
}

static bool
is_honeypot(const struct screen *sc, const char *user)
{
	char local[SCREEN_NAME_MAX];
	const char *at;

	if (user == NULL || sc->cfg->honeypots[0] == '\0')
		return false;
	if (conf_list_has(sc->cfg->honeypots, user, false))
		return true;
	at = strchr(user, '@');
	if (at == NULL || (size_t)(at - user) >= sizeof(local))
		return false;
	memcpy(local, user, (size_t)(at - user));
	local[at - user] = '\0';
	return conf_list_has(sc->cfg->honeypots, local, false);
}

static bool
nat_exempt(const struct screen *sc, const char *ip, const char *user)
{
	const char *at = user ? strrchr(user, '@') : NULL;
	unsigned i;

	if (at == NULL)
		return false;
	for (i = 0; i < sc->nnat; i++)
		if (strcasecmp(sc->nat[i].domain, at + 1) == 0 &&
		    cidr_match(&sc->nat[i].net, ip))
			return true;
	return false;
}

/* ---- rules and their reload ---------------------------------------- */

struct reload_job {
	uv_work_t		 work;
	struct screen		*sc;
	uint64_t		 generation;
	struct screen_rules	*rules;
	char			 error[256];
};

static void
install_rules(struct screen *sc, struct screen_rules *rules, uint64_t gen)
{
	screen_rules_free(&sc->rules);
	sc->rules = rules;
	sc->generation = gen;
	sc->has_host_rules = screen_rules_count_kind(rules,
	    SCREEN_KIND_HOST) > 0;
	log_info("screen event=rules-loaded rules=%zu generation=%llu",
	    rules ? screen_rules_count(rules) : 0, (unsigned long long)gen);
}

static void
reload_work(uv_work_t *w)
{
	struct reload_job *j = w->data;
	struct store *st;
	const char *error = NULL;

	if ((st = store_thread(j->sc->cfg->data_dir, &error)) == NULL ||
	    screen_rules_load(st, &j->rules, &error) < 0) {
		snprintf(j->error, sizeof(j->error), "%s", error ? error :
		    "cannot load");
		j->rules = NULL;
	}
}

static void
reload_done(uv_work_t *w, int status)
{
	struct reload_job *j = w->data;
	struct screen *sc = j->sc;

	sc->loading = false;
	if (sc->closing) {
		screen_rules_free(&j->rules);
		free(j);
		free(sc);
		return;
	}
	if (status != 0 || j->rules == NULL)
		log_warnx("screen: reloading rules: %s; keeping the old ones",
		    j->error[0] ? j->error : "cancelled");
	else
		install_rules(sc, j->rules, j->generation);
	free(j);
}

static void
reload_tick(uv_timer_t *t)
{
	struct screen *sc = t->data;
	struct reload_job *j;
	uint64_t gen;

	if (sc->dyn == NULL || sc->loading)
		return;
	gen = dyn_rules_generation(sc->dyn);
	if (gen == sc->generation)
		return;
	j = xcalloc(1, sizeof(*j));
	j->work.data = j;
	j->sc = sc;
	j->generation = gen;
	if (uv_queue_work(sc->loop, &j->work, reload_work, reload_done) != 0) {
		free(j);
		return;
	}
	sc->loading = true;
}

struct screen *
screen_new(uv_loop_t *loop, const struct config *cfg, struct dynscreen *dyn)
{
	struct screen *sc = xcalloc(1, sizeof(*sc));
	struct screen_rules *rules = NULL;
	struct store *st;
	const char *error = NULL;

	sc->loop = loop;
	sc->cfg = cfg;
	sc->dyn = dyn;
	(void)conf_list_each(cfg->nat_exempt, add_nat, sc);
	if (cfg->dnsbl[0] != '\0') {
		if (dnsbl_parse(cfg->dnsbl, &sc->dnsbl, &error) < 0)
			log_warnx("screen: [screen] dnsbl: %s; not used",
			    error);
		else {
			sc->dnsbl_on = sc->dnsbl.nzones > 0;
			sc->dnsbl.query_loopback = cfg->dnsbl_loopback;
			if (cfg->dnsbl_reject > 0)
				sc->dnsbl.threshold = cfg->dnsbl_reject;
		}
	}
	/* The first load is synchronous: a worker serves no client before
	 * it knows its rules. */
	if (store_open(cfg->data_dir, &st, &error) < 0 ||
	    screen_rules_load(st, &rules, &error) < 0)
		log_warnx("screen: loading rules: %s", error);
	store_close(&st);
	install_rules(sc, rules, dyn ? dyn_rules_generation(dyn) : 0);
	uv_timer_init(loop, &sc->timer);
	sc->timer.data = sc;
	uv_timer_start(&sc->timer, reload_tick, SCREEN_RELOAD_MS,
	    SCREEN_RELOAD_MS);
	uv_unref((uv_handle_t *)&sc->timer);
	return sc;
}

static void
timer_closed(uv_handle_t *h)
{
	struct screen *sc = h->data;

	if (!sc->loading)
		free(sc);	/* else reload_done frees it */
}

void
screen_free(struct screen **scp)
{
	struct screen *sc = *scp;

	if (sc == NULL)
		return;
	*scp = NULL;
	sc->closing = true;
	screen_rules_free(&sc->rules);
	uv_close((uv_handle_t *)&sc->timer, timer_closed);
}

struct dynscreen *
screen_dyn(const struct screen *sc)
{
	return sc->dyn;
}

bool
screen_wants_rdns(const struct screen *sc)
{
	return sc->has_host_rules || sc->cfg->fcrdns;
}

enum screen_service
screen_service_of(enum listen_service svc)
{
	switch (svc) {
	case SERVICE_SMTP:
		return SCREEN_SVC_SMTP;
	case SERVICE_SUBMISSION:
	case SERVICE_SUBMISSIONS:
		return SCREEN_SVC_SUBMISSION;
	case SERVICE_IMAP:
	case SERVICE_IMAPS:
		return SCREEN_SVC_IMAP;
	case SERVICE_WEB:
		return SCREEN_SVC_WEB;
	default:
		return SCREEN_SVC_POP3;
	}
}

static enum screen_service
service_by_name(const char *name)
{
	enum screen_service svc;

	if (strcmp(name, "submissions") == 0)
		return SCREEN_SVC_SUBMISSION;
	if (screen_service_parse(name, &svc) == 0)
		return svc;
	return SCREEN_SVC_SMTP;
}

bool
screen_trusted(const struct screen *sc, const char *ip)
{
	return cidr_match_any(sc->cfg->trusted, sc->cfg->ntrusted, ip);
}

/* ---- verdicts ------------------------------------------------------ */

/* A rule verdict as a result: refuse for DENY (or a shadow DENY), go on
 * for ALLOW (skipping the rest), else pass. */
static enum screen_result
verdict_result(const struct screen_verdict *v, const char *what,
    const char *input, const char *reply, struct trace *t,
    struct screen_refusal *r)
{
	char rule[SCREEN_HIT_TEXT_MAX];

	if (v->action == SCREEN_ALLOW) {
		screen_hit_format(&v->rule, rule, sizeof(rule));
		trace_add(t, what, "%s: allowed by %s", input, rule);
		return SCREEN_ALLOWED;
	}
	if (v->action == SCREEN_DENY) {
		screen_hit_format(&v->rule, r->rule, sizeof(r->rule));
		snprintf(r->text, sizeof(r->text), "%s", reply);
		r->shadow = false;
		trace_add(t, what, "%s: refused by %s", input, r->rule);
		return SCREEN_REFUSE;
	}
	if (v->shadow_action == SCREEN_DENY) {
		screen_hit_format(&v->shadow_rule, r->rule, sizeof(r->rule));
		snprintf(r->text, sizeof(r->text), "%s", reply);
		r->shadow = true;
		trace_add(t, what, "%s: shadow rule %s would refuse", input,
		    r->rule);
		return SCREEN_REFUSE;
	}
	trace_add(t, what, "%s: no rule", input);
	return SCREEN_PASS;
}

static bool
ip_allowed(const struct screen *sc, enum screen_service svc, const char *ip)
{
	struct screen_verdict v;

	return screen_match_ip(sc->rules, svc, NULL, ip, &v) ==
	    SCREEN_ALLOW;
}

static void
ban_refusal(struct screen_refusal *r, const char *ip,
    const struct dyn_ban *b, time_t now)
{
	unsigned long left = b->until > now ? (unsigned long)(b->until -
	    now) : 0;

	snprintf(r->rule, sizeof(r->rule), "ban %s", b->reason);
	if (b->until == DYN_BAN_FOREVER)
		snprintf(r->text, sizeof(r->text), "%s is blocked (%s)", ip,
		    b->reason);
	else
		snprintf(r->text, sizeof(r->text), "%s is blocked for %lu "
		    "more minute%s (%s)", ip, (left + 59) / 60,
		    (left + 59) / 60 == 1 ? "" : "s", b->reason);
	r->shadow = b->shadow;
}

enum screen_result
screen_connect(struct screen *sc, enum listen_service service,
    const char *ip, struct trace *t, struct screen_refusal *r)
{
	enum screen_service svc = screen_service_of(service);
	struct screen_verdict v;
	struct dyn_ban ban;
	struct dyn_ip key;
	enum screen_result res;
	time_t now = time(NULL);

	trace_add(t, "connect", "ip=%s service=%s", ip,
	    config_service_name(service));
	(void)screen_match_ip(sc->rules, svc, NULL, ip, &v);
	if (v.action == SCREEN_ALLOW)
		return verdict_result(&v, "ip-rule", ip, "", t, r);
	if (screen_trusted(sc, ip)) {
		trace_add(t, "trusted", "%s is in [relay] trusted_networks: "
		    "no bans", ip);
		return SCREEN_PASS;
	}
	if (sc->dyn != NULL && dyn_ip_key(ip, 32, 128, &key) == 0) {
		uint8_t plens[129];
		unsigned n, i;
		bool shadow = false;

		/* Bans at every prefix length that has any: the counting
		 * one ([dynamic] aggregate_*) and an admin's networks. */
		n = dyn_ban_prefixes(sc->dyn, key.family, plens,
		    sizeof(plens));
		for (i = 0; i < n; i++) {
			struct dyn_ip net;

			if (dyn_ip_key(ip, key.family == AF_INET ? plens[i] :
			    32, key.family == AF_INET6 ? plens[i] : 128,
			    &net) < 0)
				continue;
			memset(&ban, 0, sizeof(ban));
			if (dyn_ip_banned(sc->dyn, &net, now, &ban)) {
				ban_refusal(r, ip, &ban, now);
				trace_add(t, "ban", "%s banned (/%u): %s", ip,
				    (unsigned)plens[i], ban.reason);
				return SCREEN_REFUSE;
			}
			shadow = shadow || ban.shadow;
		}
		trace_add(t, "ban", "%s not banned%s", ip, shadow ?
		    " (a shadow ban is recorded)" : "");
	}
	res = verdict_result(&v, "ip-rule", ip, "access denied", t, r);
	if (res == SCREEN_REFUSE && !r->shadow)
		return res;
	if (sc->cfg->dyn[DYNCFG_CONNECT].limit > 0 &&
	    screen_event(sc, ip, DYNCFG_CONNECT, 0, t, r) == SCREEN_REFUSE)
		return SCREEN_REFUSE;
	return res;
}

enum screen_result
screen_host(struct screen *sc, enum listen_service service, const char *ip,
    const char *name, struct trace *t, struct screen_refusal *r)
{
	struct screen_verdict v;

	(void)ip;
	(void)screen_match_host(sc->rules, screen_service_of(service), NULL,
	    name, &v);
	return verdict_result(&v, "host-rule", name, "access denied", t, r);
}

enum screen_result
screen_helo(struct screen *sc, enum listen_service service,
    const char *helo, struct trace *t, struct screen_refusal *r)
{
	struct screen_verdict v;

	(void)screen_match_helo(sc->rules, screen_service_of(service), NULL,
	    helo, &v);
	return verdict_result(&v, "helo-rule", helo, "HELO refused", t, r);
}

enum screen_result
screen_sender(struct screen *sc, enum listen_service service,
    const char *sender, struct trace *t, struct screen_refusal *r)
{
	struct screen_verdict v;

	(void)screen_match_sender(sc->rules, screen_service_of(service), NULL,
	    sender, &v);
	return verdict_result(&v, "sender-rule", sender[0] ? sender : "<>",
	    "sender refused", t, r);
}

enum screen_result
screen_rcpt(struct screen *sc, enum listen_service service,
    const struct screen_client *cl, const char *rcpt, const char *domain,
    struct trace *t, struct screen_refusal *r)
{
	enum screen_service svc = screen_service_of(service);
	struct screen_verdict v, w;

	(void)screen_match_rcpt(sc->rules, svc, domain, rcpt, &v);
	if (domain != NULL) {
		/* The domain's own rules about the client. */
		(void)screen_match_ip(sc->rules, svc, domain, cl->ip, &w);
		screen_verdict_merge(&v, &w);
		if (cl->rdns != NULL && cl->rdns[0] != '\0') {
			(void)screen_match_host(sc->rules, svc, domain,
			    cl->rdns, &w);
			screen_verdict_merge(&v, &w);
		}
		if (cl->helo != NULL && cl->helo[0] != '\0') {
			(void)screen_match_helo(sc->rules, svc, domain,
			    cl->helo, &w);
			screen_verdict_merge(&v, &w);
		}
		(void)screen_match_sender(sc->rules, svc, domain,
		    cl->sender ? cl->sender : "", &w);
		screen_verdict_merge(&v, &w);
	}
	return verdict_result(&v, "rcpt-rules", rcpt, "recipient refused", t,
	    r);
}

/* ---- dynamic screening --------------------------------------------- */

/* Tell the admins (rate-limited per topic). */
static void
tell_admins(struct screen *sc, const char *account, const char *topic,
    const char *subject, const char *body)
{
	char to[1024];

	notify_admins(sc->cfg, account, to, sizeof(to));
	notify_async(sc->loop, sc->cfg, sc->dyn, topic, to, subject, body);
}

static enum screen_result
ban_now(struct screen *sc, const struct dyn_ip *key, const char *ip,
    const char *reason, unsigned count, bool shadow, struct trace *t,
    struct screen_refusal *r)
{
	struct dyn_ban ban;
	time_t now = time(NULL);
	int placed;

	memset(&ban, 0, sizeof(ban));
	placed = dyn_ip_ban(sc->dyn, key, reason, count, sc->cfg->ban_time,
	    sc->cfg->ban_max, shadow, now, &ban);
	if (placed < 0) {
		log_warnx("screen: cannot ban %s (table full)", ip);
		return SCREEN_PASS;
	}
	if (placed == 1) {
		char keytext[DYN_IP_TEXT_MAX];

		char topic[80], subject[200], body[512];

		log_info("screen event=%s ip=%s key=%s reason=\"%s\" "
		    "until=%lld offences=%u", shadow ? "shadow-ban" : "ban",
		    ip, dyn_ip_format(key, keytext, sizeof(keytext)), reason,
		    (long long)ban.until, ban.offences);
		if (!shadow) {
			snprintf(topic, sizeof(topic), "ban %s", keytext);
			snprintf(subject, sizeof(subject), "moat: %s banned "
			    "(%s)", keytext, reason);
			snprintf(body, sizeof(body), "moat banned %s on "
			    "every service for %lld minutes.\r\nReason: "
			    "%s\r\nEarlier bans in the last day: %u\r\n\r\n"
			    "To lift it: moatctl ban del %s\r\n", keytext,
			    (long long)(ban.until - now + 59) / 60, reason,
			    ban.offences, ip);
			tell_admins(sc, NULL, topic, subject, body);
		}
	} else if (shadow)
		return SCREEN_PASS;	/* logged when it was placed */
	trace_add(t, "ban", "%s %s: %s", ip, shadow ? "would be banned" :
	    "banned", reason);
	ban_refusal(r, ip, &ban, now);
	r->shadow = shadow;
	return SCREEN_REFUSE;
}

enum screen_result
screen_event(struct screen *sc, const char *ip, enum config_dyn what,
    uint64_t fingerprint, struct trace *t, struct screen_refusal *r)
{
	const struct config_rate *rate = &sc->cfg->dyn[what];
	struct dyn_ip key;
	char reason[64];
	unsigned n;

	if (sc->dyn == NULL || rate->limit == 0 || screen_trusted(sc, ip) ||
	    ip_allowed(sc, SCREEN_SVC_ALL, ip) ||
	    dyn_ip_key(ip, sc->cfg->aggregate_v4, sc->cfg->aggregate_v6,
	    &key) < 0)
		return SCREEN_PASS;
	n = dyn_ip_add(sc->dyn, &key, (enum dyn_ip_metric)what, 1,
	    rate->window, fingerprint, time(NULL));
	trace_add(t, metric_names[what], "%s: %u in %us (limit %u)", ip, n,
	    rate->window, rate->limit);
	if (n <= rate->limit)
		return SCREEN_PASS;
	snprintf(reason, sizeof(reason), "%s %u/%us", metric_names[what], n,
	    rate->window);
	return ban_now(sc, &key, ip, reason, n,
	    sc->cfg->dyn_mode[what] == MODE_SHADOW, t, r);
}

static void
account_blocked(struct screen *sc, const char *user, unsigned n,
    const struct dyn_ban *ban)
{
	char topic[400], subject[400], body[800];
	bool shadow = sc->cfg->spray_mode == MODE_SHADOW;

	log_info("screen event=%s account=%s reason=\"failed logins from %u "
	    "addresses\" until=%lld", shadow ? "shadow-block" :
	    "account-block", user, n, (long long)ban->until);
	if (shadow)
		return;
	snprintf(topic, sizeof(topic), "block %s", user);
	snprintf(subject, sizeof(subject), "moat: logins to %s blocked "
	    "(password spraying)", user);
	snprintf(body, sizeof(body), "Failed logins for %s came from %u "
	    "addresses.\r\nUntil %lld (unix time) it may log in only from "
	    "addresses it used before.\r\n\r\nTo lift it: moatctl ban "
	    "del-account %s\r\n", user, n, (long long)ban->until, user);
	tell_admins(sc, user, topic, subject, body);
}

static void
account_failing(struct screen *sc, const char *user, const char *ip,
    unsigned n)
{
	char topic[400], subject[400], body[800];

	snprintf(topic, sizeof(topic), "failures %s", user);
	snprintf(subject, sizeof(subject), "moat: %u failed logins for %s",
	    n, user);
	snprintf(body, sizeof(body), "%u failed logins for %s within %us; "
	    "the last from %s.\r\nIf this is not its owner mistyping, the "
	    "password is being guessed.\r\n", n, user,
	    sc->cfg->dyn[DYNCFG_AUTH_FAIL].window, ip);
	tell_admins(sc, user, topic, subject, body);
}

enum screen_result
screen_login(struct screen *sc, const char *service, const char *ip,
    const char *user, bool ok, uint64_t fingerprint, struct trace *t,
    struct screen_refusal *r)
{
	enum screen_service svc = service_by_name(service);
	struct dyn_ip key;
	struct dyn_ban ban;
	time_t now = time(NULL);
	unsigned n;

	if (sc->dyn == NULL || dyn_ip_key(ip, 32, 128, &key) < 0)
		return SCREEN_PASS;
	if (ok) {
		if (user != NULL)
			(void)dyn_acct_distinct_ip(sc->dyn, user,
			    DYN_DISTINCT_LOGIN_IPS, &key,
			    sc->cfg->hj_login_ips.window, now);
		return SCREEN_PASS;
	}
	if (screen_trusted(sc, ip) || ip_allowed(sc, svc, ip)) {
		trace_add(t, "login", "%s failed from trusted %s: not counted",
		    user ? user : "-", ip);
		return SCREEN_PASS;
	}
	if (is_honeypot(sc, user)) {
		struct dyn_ip agg;

		trace_add(t, "honeypot", "login as %s", user);
		if (dyn_ip_key(ip, sc->cfg->aggregate_v4,
		    sc->cfg->aggregate_v6, &agg) < 0)
			return SCREEN_PASS;
		return ban_now(sc, &agg, ip, "honeypot login", 1, false, t,
		    r);
	}
	if (user != NULL && sc->cfg->spray.limit > 0) {
		n = dyn_acct_distinct_ip(sc->dyn, user, DYN_DISTINCT_FAIL_IPS,
		    &key, sc->cfg->spray.window, now);
		if (n > sc->cfg->spray.limit) {
			memset(&ban, 0, sizeof(ban));
			if (dyn_acct_block(sc->dyn, user, "password spraying",
			    n, sc->cfg->spray_block, sc->cfg->spray_block,
			    sc->cfg->spray_mode == MODE_SHADOW, now, &ban) == 1)
				account_blocked(sc, user, n, &ban);
		}
	}
	if (user != NULL && (n = dyn_acct_add(sc->dyn, user,
	    DYN_ACCT_AUTH_FAIL, 1, sc->cfg->dyn[DYNCFG_AUTH_FAIL].window,
	    fingerprint, now)) >= sc->cfg->notify_failures &&
	    sc->cfg->notify_failures > 0)
		account_failing(sc, user, ip, n);
	if (nat_exempt(sc, ip, user)) {
		trace_add(t, "login", "%s from %s: nat_exempt, not counted "
		    "against the address", user, ip);
		return SCREEN_PASS;
	}
	return screen_event(sc, ip, DYNCFG_AUTH_FAIL, fingerprint, t, r);
}

void
screen_log_refusal(struct screen *sc, const char *service,
    const char *session, const char *ip, const char *user, int code,
    const struct screen_refusal *r, const struct trace *t)
{
	char ref[TRACE_REF_LEN + 1];
	struct store_reject rej = {
		.time = time(NULL),
		.session = session,
		.service = service,
		.ip = ip,
		.mail_from = user,
		.code = code,
		.rule = r->rule,
		.reason = r->text,
		.ref = ref,
		.shadow = r->shadow,
	};

	trace_ref(session, ref);
	reject_log_line(&rej);
	reject_log_submit(sc->loop, sc->cfg->data_dir, &rej, t);
}

bool
screen_session_refused(struct screen *sc, enum listen_service svc,
    const char *session, const char *ip, char *text, size_t textlen)
{
	struct screen_refusal r;
	struct trace t = { 0 };
	char ref[TRACE_REF_LEN + 1];
	enum screen_result res;

	if (sc == NULL)
		return false;
	memset(&r, 0, sizeof(r));
	res = screen_connect(sc, svc, ip, &t, &r);
	if (res == SCREEN_REFUSE) {
		screen_log_refusal(sc, config_service_name(svc), session, ip,
		    NULL, r.shadow ? 0 : 421, &r, &t);
		trace_ref(session, ref);
		snprintf(text, textlen, "%s [ref %s]", r.text, ref);
	}
	trace_free(&t);
	return res == SCREEN_REFUSE && !r.shadow;
}

/* ---- DNS blocklists ------------------------------------------------ */

struct screen_dnsbl {
	struct screen		*sc;
	struct dnsbl_query	*q;
	struct trace		*t;
	screen_dnsbl_cb		*done;
	void			*ctx;
};

static void
dnsbl_done(const struct dnsbl_result *res, void *ctx)
{
	struct screen_dnsbl *d = ctx;
	struct screen_refusal r;
	char text[DNSBL_FORMAT_MAX];
	enum screen_result out = SCREEN_PASS;

	memset(&r, 0, sizeof(r));
	r.dnsbl_score = res->score;
	(void)dnsbl_result_format(res, text, sizeof(text));
	trace_add(d->t, "dnsbl", "%s", text);
	if (d->sc->cfg->dnsbl_reject > 0 && res->listed) {
		snprintf(r.rule, sizeof(r.rule), "dnsbl score=%d", res->score);
		snprintf(r.text, sizeof(r.text), "%s is listed at %.200s",
		    res->ip, text);
		r.shadow = d->sc->cfg->dnsbl_mode == MODE_SHADOW;
		out = SCREEN_REFUSE;
	}
	d->done(d->ctx, out, &r);
	free(d);
}

struct screen_dnsbl *
screen_dnsbl_start(struct screen *sc, struct dns *dns, const char *ip,
    struct trace *t, screen_dnsbl_cb *done, void *ctx)
{
	struct screen_dnsbl *d;

	if (!sc->dnsbl_on || dns == NULL || screen_trusted(sc, ip) ||
	    ip_allowed(sc, SCREEN_SVC_SMTP, ip))
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->sc = sc;
	d->t = t;
	d->done = done;
	d->ctx = ctx;
	d->q = dnsbl_check(sc->loop, dns, &sc->dnsbl, ip, dnsbl_done, d);
	if (d->q == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
screen_dnsbl_cancel(struct screen_dnsbl *d)
{
	if (d == NULL)
		return;
	dnsbl_cancel(d->q);
	free(d);
}
