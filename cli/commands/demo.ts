import type { Command } from 'commander';

/** `higress-plugin demo`: what `npm start` runs. Until the gateway lands it says what it will do. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('start the local gateway on the embedded demo config (what `npm start` runs)')
    .action(() => {
      console.log('The demo gateway is not built yet. When it is, `npm start` starts the local gateway on an');
      console.log('embedded config with example plugins in front of a demo upstream and prints curl lines to try.');
    });
}
