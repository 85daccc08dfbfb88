/* bayes: placeholder, being written. */
#include "bayes.h"
typedef int bayes_placeholder;
