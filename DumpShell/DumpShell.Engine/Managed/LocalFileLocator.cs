using System.Collections.Immutable;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using DumpShell.Format.Elf;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Managed;

/// <summary>
/// ClrMD's file locator, restricted to files already on this host at the path the dump names, accepted only when
/// they are the dumped build (PE timestamp and size, ELF build id). Never downloads, never writes a cache.
/// </summary>
public sealed class LocalFileLocator : IFileLocator
{
    public string? FindPEImage(string fileName, int buildTimeStamp, int imageSize, bool checkProperties)
    {
        if (string.IsNullOrEmpty(fileName) || !File.Exists(fileName)) return null;
        if (!checkProperties) return fileName;
        try
        {
            using var stream = File.OpenRead(fileName);
            using var pe = new PEReader(stream);
            var h = pe.PEHeaders;
            return h.CoffHeader.TimeDateStamp == buildTimeStamp && (h.PEHeader?.SizeOfImage ?? -1) == imageSize ? fileName : null;
        }
        catch (Exception)
        {
            return null;
        }
    }

    public string? FindPEImage(string fileName, SymbolProperties archivedUnder, ImmutableArray<byte> buildIdOrUUID, OSPlatform originalPlatform, bool checkProperties)
    {
        // Files archived under the runtime's key (the DAC, the DBI) are the caller's business: DumpShell passes the DAC itself.
        if (archivedUnder == SymbolProperties.Coreclr) return null;
        if (string.IsNullOrEmpty(fileName) || !File.Exists(fileName)) return null;
        if (!checkProperties || buildIdOrUUID.IsDefaultOrEmpty) return fileName;
        var local = ElfBuildId.FromFile(fileName);
        return !local.IsEmpty && local.AsSpan().SequenceEqual(buildIdOrUUID.AsSpan()) ? fileName : null;
    }
}
