/* fuzz_rules: the content-filter rule parser on arbitrary files: it
 * either fails with a "name:line: " error or gives a rule set within the
 * limits, which is then evaluated against a small fixed message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "rules_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_msg[] =
    "Subject: hello\r\nContent-Type: text/plain\r\n\r\nbody text\r\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rcpts[] = { "a@b.test" };
	static const struct rules_part part = { "x.exe", "application/x",
		"pe", 10 };
	struct rules_input in;
	struct rules_hits hits;
	struct rules *r = NULL;
	char err[600];
	unsigned i;

	if (rules_parse((const char *)data, size, "f", &r, err,
	    sizeof(err)) < 0) {
		if (r != NULL || strncmp(err, "f:", 2) != 0)
			abort();
		return 0;
	}
	if (r == NULL || r->nrules > RULES_MAX)
		abort();
	for (i = 0; i < r->nrules; i++)
		if (r->rules[i].nactions == 0 ||
		    r->rules[i].nactions > RULES_ACTIONS_MAX)
			abort();
	memset(&in, 0, sizeof(in));
	in.msg = (const uint8_t *)fuzz_msg;
	in.len = sizeof(fuzz_msg) - 1;
	in.size = in.len;
	in.sender = "s@t.test";
	in.rcpts = rcpts;
	in.nrcpts = 1;
	in.auth_user = "";
	in.spf = "pass";
	in.dmarc = "none";
	in.virus = "";
	in.ip = "192.0.2.1";
	in.parts = &part;
	in.nparts = 1;
	rules_eval(r, &in, &hits);
	if (hits.n > r->nrules)
		abort();
	rules_free(r);
	return 0;
}
