/* fuzz_clamd: libFuzzer target for the clamd reply parser and address
 * parser (src/filter/clamd.c). The input is read as a reply line: the
 * result must be one of the three verdicts, with a signature or reason
 * that is NUL-terminated, within its bound and made only of safe octets.
 * The input is also tried as an address: a parsed one must format back
 * to a string that parses to the same address. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t max, bool space)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    (*s == ' ' && !space))
			abort();
}

static void
check_reply(const uint8_t *data, size_t size)
{
	struct clamd_result r;
	int ret = clamd_reply_parse(data, size, &r);

	switch (r.status) {
	case CLAMD_CLEAN:
		if (ret != 0 || r.error != CLAMD_ERR_NONE)
			abort();
		break;
	case CLAMD_INFECTED:
		if (ret != 0 || r.signature[0] == '\0')
			abort();
		check_text(r.signature, CLAMD_SIGNATURE_MAX, false);
		break;
	case CLAMD_ERROR:
		if ((ret == -1) != (r.error == CLAMD_ERR_PROTOCOL))
			abort();
		check_text(r.reason, CLAMD_REASON_MAX, true);
		break;
	default:
		abort();
	}
}

static void
check_addr(const uint8_t *data, size_t size)
{
	char s[CLAMD_ADDR_MAX + 2], back[CLAMD_ADDR_MAX + 16];
	struct clamd_addr a, b;
	const char *err;

	if (size > CLAMD_ADDR_MAX + 1 || memchr(data, '\0', size) != NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (clamd_addr_parse(s, &a, &err) < 0)
		return;
	clamd_addr_format(&a, back, sizeof(back));
	if (clamd_addr_parse(back, &b, &err) < 0 || a.kind != b.kind ||
	    strcmp(a.path, b.path) != 0 || a.port != b.port)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_reply(data, size);
	check_addr(data, size);
	return 0;
}
