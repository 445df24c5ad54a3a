import { defineCommand } from './command';

interface Args {
  deb: string;
}

const DESCRIBE = 'print the control paragraph of a .deb exactly as `dpkg-deb -f` does';

export const infoCommand = defineCommand<Args>({
  command: 'info <deb>',
  describe: DESCRIBE,
  builder: (y) =>
    y
      .parserConfiguration({ 'parse-positional-numbers': false })
      .usage(`$0 info FILE.deb\n\n${DESCRIBE}`)
      .positional('deb', { type: 'string', describe: 'the archive', demandOption: true })
      .example('$0 info hello_2.10-3_amd64.deb', 'Package, Version, Depends, Description, ...'),
  run: async (args, io) => {
    const { readDebControl } = await import('../archive/deb');
    const control = await readDebControl(String(args.deb));
    // dpkg-deb -f without field names copies the control file as it is, byte for byte.
    io.stdout.write(control.files.get('control') ?? Buffer.alloc(0));
    return 0;
  },
});
