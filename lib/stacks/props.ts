import type { StackProps } from 'aws-cdk-lib';
import type { EnvironmentConfig } from '../config/schema.ts';

export interface LifeboatStackProps extends StackProps {
  /** lifeboat environment name, e.g. `prod`. */
  readonly environment: string;
  /** The environment's validated configuration. */
  readonly config: EnvironmentConfig;
}
