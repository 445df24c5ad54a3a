import { defineCommand } from './command';

interface Args {
  deb: string;
}

/** Listing held back before any of it is written (characters, about bytes). */
const LISTING_HELD = 1 << 20;

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
    const [{ readDebData }, { localeIsUtf8, TarListing }] = await Promise.all([import('../archive/deb'), import('../archive/listing')]);
    const listing = new TarListing({ utf8: localeIsUtf8(process.env) });
    // Held back up to a few MiB, so that a corrupt archive of ordinary size yields one error line and no
    // listing; past that, written as it comes (as dpkg-deb does), so that millions of members cost no memory.
    let held: string[] = [];
    let heldBytes = 0;
    for await (const entry of readDebData(String(args.deb))) {
      const line = listing.line(entry.header);
      held.push(line);
      heldBytes += line.length;
      entry.body.resume();
      if (heldBytes >= LISTING_HELD) {
        if (!io.stdout.write(held.join(''))) await new Promise((resolve) => io.stdout.once('drain', resolve));
        held = [];
        heldBytes = 0;
      }
    }
    io.stdout.write(held.join(''));
    return 0;
  },
});
