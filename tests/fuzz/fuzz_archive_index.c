/* fuzz_archive_index: libFuzzer target for the archive index line parser
 * (src/store/archive.c). An index is read back from an admin's disk, so
 * it is untrusted input: the parser must stay in bounds, and whatever it
 * accepts must format back to a line it parses to the same entry. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive_entry e, e2;
	char line[ARCHIVE_LINE_MAX + 1];
	const char *err = NULL;
	char *s;
	int n;

	/* Exactly size octets, no terminator: reads past len are caught. */
	if ((s = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	if (archive_index_parse(s, size, &e, &err) < 0) {
		if (err == NULL)
			abort();
		free(s);
		return 0;
	}
	if (strlen(e.id) != QUEUE_ID_LEN ||
	    strlen(e.file_hash) != ARCHIVE_HASH_HEX ||
	    strlen(e.prev_hash) != ARCHIVE_HASH_HEX ||
	    strlen(e.from) > ARCHIVE_ADDR_MAX ||
	    strlen(e.to) > ARCHIVE_TO_MAX ||
	    strlen(e.subject) > ARCHIVE_SUBJECT_MAX ||
	    strlen(e.snippet) > ARCHIVE_SNIPPET_MAX)
		abort();
	/* Round trip: format and parse again. */
	n = archive_index_format(&e, line, sizeof(line));
	if (n <= 0 || line[n - 1] != '\n' ||
	    archive_index_parse(line, (size_t)n - 1, &e2, &err) < 0 ||
	    memcmp(&e, &e2, sizeof(e)) != 0)
		abort();
	free(s);
	return 0;
}
