using System.Management.Automation;
using DumpShell.Format;

namespace DumpShell.Commands;

/// <summary>Turns -Path arguments into opened dumps for a cmdlet, writing one ErrorRecord per path that fails.</summary>
internal static class DumpResolver
{
    /// <summary>Expands wildcards (relative paths resolve against PowerShell's current location).</summary>
    public static IEnumerable<string> ResolveFiles(PSCmdlet cmdlet, string path)
    {
        try
        {
            return WildcardPattern.ContainsWildcardCharacters(path)
                ? cmdlet.GetResolvedProviderPathFromPSPath(path, out _)
                : [cmdlet.GetUnresolvedProviderPathFromPSPath(path)];
        }
        catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException
                                      or NotSupportedException or ArgumentException)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpFileNotFound", ErrorCategory.ObjectNotFound, path));
            return [];
        }
    }

    /// <summary>Opens each file the paths name; shows progress when there are several.</summary>
    public static IEnumerable<Dump> Open(PSCmdlet cmdlet, IEnumerable<string> paths)
    {
        var files = paths.SelectMany(path => ResolveFiles(cmdlet, path)).ToList();
        bool showProgress = files.Count > 1;
        string activity = cmdlet.MyInvocation.MyCommand.Name;
        for (int i = 0; i < files.Count; i++)
        {
            if (showProgress)
                cmdlet.WriteProgress(new ProgressRecord(0, activity, $"{i + 1} of {files.Count}: {Path.GetFileName(files[i])}")
                {
                    PercentComplete = i * 100 / files.Count,
                });
            if (TryOpen(cmdlet, files[i]) is { } dump)
                yield return dump;
        }
        if (showProgress)
            cmdlet.WriteProgress(new ProgressRecord(0, activity, "Done") { RecordType = ProgressRecordType.Completed });
    }

    private static Dump? TryOpen(PSCmdlet cmdlet, string fullPath)
    {
        try
        {
            return DumpCache.Current.Open(fullPath);
        }
        catch (DumpFormatException e)
        {
            var category = e.ErrorId switch
            {
                "DumpFileNotFound" => ErrorCategory.ObjectNotFound,
                "PathIsDirectory" => ErrorCategory.InvalidArgument,
                _ => ErrorCategory.InvalidData,
            };
            cmdlet.WriteError(new ErrorRecord(e, e.ErrorId, category, fullPath));
        }
        catch (UnauthorizedAccessException e)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpAccessDenied", ErrorCategory.PermissionDenied, fullPath));
        }
        catch (IOException e)
        {
            cmdlet.WriteError(new ErrorRecord(e, "DumpOpenFailed", ErrorCategory.ReadError, fullPath));
        }
        return null;
    }
}
