import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AbandonedCompanies } from './abandoned-companies.service';
import { Company } from './company.entity';
import { Installation } from './installation.entity';
import { InstallationsRepository } from './installations.repository';
import { SecretsReseal } from './secrets-reseal.service';

@Module({
  imports: [TypeOrmModule.forFeature([Company, Installation])],
  providers: [InstallationsRepository, AbandonedCompanies, SecretsReseal],
  exports: [InstallationsRepository],
})
export class InstallationsModule {}
