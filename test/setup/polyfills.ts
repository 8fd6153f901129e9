// The same polyfill the CLI loads before running ASL locally.
import '../../bin/cli/promise-with-resolvers.ts';
