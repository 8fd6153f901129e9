/**
 * The grammar of a Secrets Manager secret ARN, in every partition (aws, aws-cn, aws-us-gov, aws-iso-b ...):
 * `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6-character suffix>`.
 * A name may contain letters, digits and / _ + = . @ -.
 */
const SECRET_ARN_HEAD = String.raw`^arn:aws(?:-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:`;
const SECRET_NAME = '[A-Za-z0-9/_+=.@-]+';

/**
 * A complete secret ARN, with the 6-character suffix Secrets Manager appends to the name: IAM then
 * names exactly this secret rather than every secret whose name starts the same. The configuration
 * requires it (every secret it names is granted to a function).
 */
export const COMPLETE_SECRET_ARN = new RegExp(`${SECRET_ARN_HEAD}${SECRET_NAME}-[A-Za-z0-9]{6}$`);

/**
 * A secret ARN, complete or partial (without the suffix, which Secrets Manager also resolves): what
 * a function accepts in its input. Values from the configuration are complete.
 */
export const SECRET_ARN = new RegExp(`${SECRET_ARN_HEAD}${SECRET_NAME}$`);

/** What the error of a value that is not a Secrets Manager ARN says it expected. */
export const SECRET_ARN_EXPECTED = 'expected a Secrets Manager ARN';
