using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell;

public sealed partial class Dump
{
    /// <summary>Modules of the UnloadedModuleList stream (lm's unloaded list).</summary>
    public IReadOnlyList<DumpModule> UnloadedModules =>
        File.UnloadedModules.Select((m, i) => new DumpModule
        {
            DumpPath = Path,
            Index = i,
            BaseAddress = m.BaseOfImage,
            Size = m.SizeOfImage,
            Name = FileNameOf(m.Name) ?? $"unloaded_{m.BaseOfImage:x}",
            Path = m.Name,
            TimeDateStamp = m.TimeDateStamp,
            Timestamp = m.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(m.TimeDateStamp),
            CheckSum = m.CheckSum,
            IsUnloaded = true,
        }).ToArray();

    private DumpModule BuildModule(ModuleRecord m)
    {
        var cv = m.CodeView;
        return new DumpModule
        {
            DumpPath = Path,
            Index = m.Index,
            BaseAddress = m.BaseOfImage,
            Size = m.SizeOfImage,
            // An unnamed module still needs a handle a person can type: WinDbg's "image<base>".
            Name = FileNameOf(m.Name) ?? $"image{m.BaseOfImage:x}",
            Path = m.Name,
            FileVersion = m.Version?.FileVersion,
            ProductVersion = m.Version?.ProductVersion,
            TimeDateStamp = m.TimeDateStamp,
            Timestamp = m.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(m.TimeDateStamp),
            CheckSum = m.CheckSum,
            PdbName = cv?.PdbName,
            PdbGuid = cv?.Guid,
            PdbAge = cv is { Format: "RSDS" or "NB10" } ? cv.Age : null,
            CodeViewFormat = cv?.Format,
            BuildId = cv?.BuildId is { Length: > 0 } id ? Convert.ToHexString(id) : null,
            IsUnloaded = false,
        };
    }

    /// <summary>The last path component; dumps of Windows use '\', of Linux and macOS '/'.</summary>
    internal static string? FileNameOf(string? path)
    {
        if (string.IsNullOrEmpty(path)) return null;
        int cut = path.LastIndexOfAny(['\\', '/']);
        string name = cut >= 0 ? path[(cut + 1)..] : path;
        return name.Length > 0 ? name : path;
    }
}
