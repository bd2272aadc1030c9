import { type DynamicModule, Global, Module } from '@nestjs/common';
import { type AppConfig, CONFIG } from './app-config';
import { SecretBox } from '../common/secret-box';

@Global()
@Module({})
export class ConfigModule {
  static register(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: SecretBox, useValue: new SecretBox(config.encryption.currentKey, config.encryption.previousKeys) },
      ],
      exports: [CONFIG, SecretBox],
    };
  }
}
