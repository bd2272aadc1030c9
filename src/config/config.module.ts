import { type DynamicModule, Global, Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from './app-config';
import { SecretBox } from '../common/secret-box';
import { SignedTokens } from '../common/signed-tokens';

@Global()
@Module({})
export class ConfigModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: SecretBox, useValue: new SecretBox(config.encryption.currentKey, config.encryption.previousKeys) },
        { provide: SignedTokens, useValue: new SignedTokens(config) },
      ],
      exports: [CONFIG, SecretBox, SignedTokens],
    };
  }
}
