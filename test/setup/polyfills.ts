// The same polyfill the CLI loads before running ASL locally.
import '../../state-machines/promise-with-resolvers.ts';
