import { readDebData } from '../archive/deb';
import { localeIsUtf8, TarListing } from '../archive/listing';
import { defineCommand } from './command';

interface Args {
  deb: string;
}

const DESCRIBE = 'list the files of a .deb exactly as `dpkg-deb -c` does (tar -tv format, local time zone)';

export const contentsCommand = defineCommand<Args>({
  command: 'contents <deb>',
  describe: DESCRIBE,
  builder: (y) =>
    y
      .parserConfiguration({ 'parse-positional-numbers': false })
      .usage(`$0 contents FILE.deb\n\n${DESCRIBE}`)
      .positional('deb', { type: 'string', describe: 'the archive', demandOption: true })
      .example('$0 contents hello_2.10-3_amd64.deb', 'one line per member: mode, owner, size, date, path'),
  run: async (args, io) => {
    const listing = new TarListing({ utf8: localeIsUtf8(process.env) });
    // Collected whole and written at the end: a corrupt archive yields one error line and no listing.
    const lines: string[] = [];
    for await (const entry of readDebData(String(args.deb))) {
      lines.push(listing.line(entry.header));
      entry.body.resume();
    }
    io.stdout.write(lines.join(''));
    return 0;
  },
});
