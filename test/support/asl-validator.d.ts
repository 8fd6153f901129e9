declare module 'asl-validator' {
  /** One finding: a JSON-schema error (`SCHEMA_VALIDATION_FAILED`) or a structural one. */
  export interface AslValidationError {
    readonly 'Error code': string;
    readonly Message?: string;
    readonly [key: string]: unknown;
  }
  export interface AslValidatorOptions {
    /** Check that every JSONPath is a valid path or intrinsic function. */
    readonly checkPaths: boolean;
    /** Check that every Task Resource is a valid ARN. */
    readonly checkArn: boolean;
  }
  /** Validates an Amazon States Language definition (it adds a default QueryLanguage to each state). */
  export default function aslValidator(
    definition: unknown,
    options?: AslValidatorOptions,
  ): { isValid: boolean; errors: AslValidationError[]; errorsText(separator?: string): string };
}
