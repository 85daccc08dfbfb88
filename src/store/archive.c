/* archive: placeholder, being written. */
#include "archive.h"
typedef int archive_placeholder;
