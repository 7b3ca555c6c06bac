using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// The process environment block (!peb): image path, command line, current directory, environment variables, NtGlobalFlag,
/// heaps and the loader's module list where memory has them. Two objects for a WOW64 process (64-bit and 32-bit PEB).
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpEnvironment", DefaultParameterSetName = PathSet)]
[OutputType(typeof(ProcessEnvironment))]
public sealed class GetDumpEnvironmentCommand : DumpCmdlet
{
    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ThreadList, MinidumpStreamType.SystemInfo, MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void ProcessDump(Dump dump)
    {
        if (!dump.HasWindowsTebLayout)
        {
            WriteError(new ErrorRecord(
                new InvalidOperationException($"{dump.Path} is not a dump of a Windows x64 or x86 process ({dump.Platform} {dump.Architecture}): it has no PEB."),
                "NoProcessEnvironment", ErrorCategory.ObjectNotFound, dump.Path));
            return;
        }
        var environments = dump.ProcessEnvironments;
        if (environments.Count == 0)
        {
            WriteError(new ErrorRecord(
                new InvalidOperationException($"{dump.Path} does not hold the PEB: no thread's TEB, or the PEB it points to, was captured (needs MiniDumpWithProcessThreadData or full memory)."),
                "PebNotInDump", ErrorCategory.ObjectNotFound, dump.Path));
            return;
        }
        foreach (var environment in environments) WriteObject(environment);
    }
}
