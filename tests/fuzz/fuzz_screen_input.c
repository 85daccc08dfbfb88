/* fuzz_screen_input: libFuzzer target for what screening and hijack
 * detection read from clients: the unfreeze token in a Subject
 * (hijack_subject_token), client text in a decision trace (trace_add
 * must keep it printable and bounded), the queue envelope with its
 * "auth" line, and the screening matcher over a rule set built from the
 * input (patterns, then subjects: an IP, a host name, an address). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hijack.h"
#include "queue.h"
#include "screen_rules.h"
#include "store_security.h"
#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct screen_rules *rules;

/* A few rules of each kind, once. */
static void
rules_once(void)
{
	static const char *const pats[][2] = {
		{ "ip", "192.0.2.0/24" }, { "ip", "2001:db8::/32" },
		{ "host", "*.dyn.example" }, { "host", "mail?.ex*.net" },
		{ "helo", "localhost" }, { "sender", "@spam.example" },
		{ "rcpt", "*@*.example.org" }, { "sender", "a*b@c*" },
	};
	const char *err;
	enum screen_kind k;
	size_t i;

	if (rules != NULL)
		return;
	rules = screen_rules_new();
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (screen_kind_parse(pats[i][0], &k) == 0)
			(void)screen_rules_add(rules, i % 2 ? SCREEN_ALLOW :
			    SCREEN_DENY, k, pats[i][1], SCREEN_SVC_ALL, NULL,
			    i % 3 == 0, (int64_t)i + 1, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), token[STORE_TOKEN_LEN + 1];
	struct screen_verdict v;
	struct queue_envelope env;
	struct trace t = { 0 };
	const char *p, *err;
	size_t off;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rules_once();
	if (hijack_subject_token(s, token, sizeof(token)) == 0 &&
	    strlen(token) != STORE_TOKEN_LEN)
		abort();
	trace_add(&t, "fuzz", "%s", s);
	trace_add(&t, "fuzz", "%s", s);
	if (t.len >= TRACE_MAX)
		abort();
	for (p = trace_text(&t); *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n')
			abort();
	trace_free(&t);
	(void)screen_match_ip(rules, SCREEN_SVC_SMTP, NULL, s, &v);
	(void)screen_match_host(rules, SCREEN_SVC_SMTP, NULL, s, &v);
	(void)screen_match_helo(rules, SCREEN_SVC_SMTP, NULL, s, &v);
	(void)screen_match_sender(rules, SCREEN_SVC_SMTP, NULL, s, &v);
	(void)screen_match_rcpt(rules, SCREEN_SVC_SMTP, "example.test", s,
	    &v);
	if (queue_envelope_parse(data, size, &env, &off, &err) == 0) {
		if (off > size)
			abort();
		queue_envelope_free(&env);
	}
	free(s);
	return 0;
}
