using System.Text;

namespace DumpShell.Format.Minidump;

public sealed partial class MinidumpFile
{
    /// <summary>
    /// The text of a Breakpad Linux stream (/proc/self/status, cmdline, environ, lsb-release, maps, cpuinfo),
    /// or null when the dump has none. These streams are raw file contents.
    /// </summary>
    public string? LinuxText(MinidumpStreamType stream) =>
        TryGetStream(stream, out var data) ? Encoding.UTF8.GetString(data) : null;

    /// <summary>A "Key:\tvalue" line of the LinuxProcStatus stream, e.g. ProcStatusValue("Pid").</summary>
    public string? ProcStatusValue(string key)
    {
        var status = LinuxText(MinidumpStreamType.LinuxProcStatus);
        if (status is null) return null;
        foreach (var line in status.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).SequenceEqual(key)) return line[(colon + 1)..].Trim();
        }
        return null;
    }
}
